"""What a function's code can do, read from its source without running it: the settings it reads and
the cloud client methods it calls.

The deploy spec must give each function every variable its code reads (tests/deploy/test_spec.py) and
IAM must grant every client call it makes (tests/deploy/test_iam.py). Both are answered over what the
function's entry point can reach: top-level functions and classes referenced from it, transitively
(lazy imports and lambdas included), plus the module-level code of every module imported on the way.
A whole class counts once it is referenced. So the answer over-approximates what an instance runs,
never under-approximates it for code that calls by name (injected clients are reached through the
`shared.cloud.wiring` function that builds them).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = ("functions", "shared")
SETTINGS_MODULE = "shared.config.settings"
Unit = tuple[str, str | None]  # (module, top-level name); None = the module's own top-level statements


def module_path(module: str, repo_root: Path = REPO_ROOT) -> Path | None:
    base = repo_root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@dataclass
class _Module:
    name: str
    path: Path
    defs: dict[str, ast.AST] = field(default_factory=dict)  # top-level def/class → node
    top: list[ast.stmt] = field(default_factory=list)  # everything else at module level
    aliases: dict[str, str] = field(default_factory=dict)  # local name → dotted target (module or module.name)


@functools.lru_cache(maxsize=512)
def _load(module: str, repo_root: Path = REPO_ROOT) -> _Module | None:
    path = module_path(module, repo_root)
    if path is None:
        return None
    tree = ast.parse(path.read_text(), filename=str(path))
    parsed = _Module(module, path)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            parsed.defs[node.name] = node
        else:
            parsed.top.append(node)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for found in ast.walk(tree):  # lazy imports inside functions too: one table per module is enough
        if isinstance(found, ast.Import):
            for alias in found.names:
                if alias.asname:
                    parsed.aliases[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    parsed.aliases[head] = head
        elif isinstance(found, ast.ImportFrom):
            base = found.module or ""
            if found.level:
                anchor = package.split(".")[: len(package.split(".")) - (found.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in found.names:
                parsed.aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
    return parsed


def _first_party(dotted: str) -> bool:
    return dotted.split(".")[0] in FIRST_PARTY


def _resolve(dotted: str, seen: frozenset[str] = frozenset()) -> Iterator[Unit]:
    """`shared.cloud.wiring.run_store` → (shared.cloud.wiring, run_store); a module → (module, None)."""
    if not _first_party(dotted) or dotted in seen:
        return
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        loaded = _load(module)
        if loaded is None:
            continue
        for i in range(1, cut + 1):  # importing a.b.c runs a/__init__, a/b/__init__ too
            yield ".".join(parts[:i]), None
        if cut == len(parts):
            return
        name = parts[cut]
        if name in loaded.defs:
            yield module, name
        elif name in loaded.aliases:  # a re-export: follow it
            yield from _resolve(".".join([loaded.aliases[name], *parts[cut + 1 :]]), seen | {dotted})
        return


def _dotted(node: ast.AST) -> str | None:
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(names)])
    return None


def _references(module: _Module, nodes: list[ast.AST]) -> Iterator[Unit]:
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield from _resolve(alias.name)
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    yield from _resolve(module.aliases[alias.asname or alias.name])
            elif isinstance(node, (ast.Name, ast.Attribute)):
                dotted = _dotted(node)
                if dotted is None:
                    continue
                head, _, rest = dotted.partition(".")
                if head in module.defs:
                    yield module.name, head
                elif head in module.aliases:
                    yield from _resolve(".".join(filter(None, [module.aliases[head], rest])))


def _body(unit: Unit) -> tuple[_Module, list[ast.AST]]:
    loaded = _load(unit[0])
    assert loaded is not None
    return loaded, (list(loaded.top) if unit[1] is None else [loaded.defs[unit[1]]])


@functools.lru_cache(maxsize=16)
def reachable(source: str, target: str) -> tuple[ast.AST, ...]:
    """The AST nodes a function's entry point (`functions/x.py`, `on_event`) can run."""
    module = source.removesuffix(".py").replace("/", ".")
    start: list[Unit] = [(module, None), (module, target)]
    seen: set[Unit] = set(start)
    queue = list(start)
    nodes: list[ast.AST] = []
    while queue:
        loaded, body = _body(queue.pop())
        nodes.extend(body)
        for unit in _references(loaded, body):
            if unit not in seen and (unit[1] is None or unit[1] in _body((unit[0], None))[0].defs):
                seen.add(unit)
                queue.append(unit)
    return tuple(nodes)


@functools.lru_cache(maxsize=1)
def settings_fields() -> dict[str, object]:
    """Settings field name → its default (`...` when required)."""
    from pydantic_core import PydanticUndefined

    from shared.config.settings import Settings

    return {
        name: (... if info.default is PydanticUndefined else info.default)
        for name, info in Settings.model_fields.items()
    }


@functools.lru_cache(maxsize=1)
def _property_fields() -> dict[str, frozenset[str]]:
    """Settings property → the fields its body reads (`staging_bucket` reads two)."""
    loaded = _load(SETTINGS_MODULE)
    assert loaded is not None
    fields = set(settings_fields())
    found: dict[str, frozenset[str]] = {}
    for item in getattr(loaded.defs["Settings"], "body", []):
        if isinstance(item, ast.FunctionDef) and any(
            isinstance(d, ast.Name) and d.id == "property" for d in item.decorator_list
        ):
            found[item.name] = frozenset(
                n.attr for n in ast.walk(item) if isinstance(n, ast.Attribute) and n.attr in fields
            )
    return found


def settings_read(source: str, target: str) -> set[str]:
    """Settings fields a function reads: `x.field`, `x.property` (its fields), `x.require("field")`,
    and every required field (constructing Settings reads it). The Settings class itself is skipped:
    its validators name fields without reading them for a function."""
    fields, properties = settings_fields(), _property_fields()
    settings_class = _load(SETTINGS_MODULE).defs["Settings"]  # type: ignore[union-attr]
    read = {name for name, default in fields.items() if default is ...}
    for root in reachable(source, target):
        if root is settings_class:
            continue
        for node in ast.walk(root):
            if isinstance(node, ast.Attribute):
                if node.attr in fields:
                    read.add(node.attr)
                read.update(properties.get(node.attr, ()))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "require":
                read.update(a.value for a in node.args if isinstance(a, ast.Constant) and a.value in fields)
    return read


@dataclass(frozen=True)
class ClientCall:
    """A call of a cloud client method found in reachable code: `bucket.copy_blob(...)` at file:line."""

    method: str
    where: str  # path relative to the repository:line
    receiver: str = ""  # the source text the method is called on (`bucket`, `self._client.table('x')`)

    @property
    def path(self) -> str:
        return self.where.rsplit(":", 1)[0]


def method_calls(source: str, target: str, methods: frozenset[str]) -> set[ClientCall]:
    """Every reachable call `<anything>.<method>(...)` of the named methods."""
    paths = {id(node): path for path, node in _top_nodes()}
    calls = set()
    for root in reachable(source, target):
        where = paths.get(id(root), "?")
        for node in ast.walk(root):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods:
                calls.add(ClientCall(node.func.attr, f"{where}:{node.lineno}", ast.unparse(node.func.value)))
    return calls


def _top_nodes() -> Iterator[tuple[str, ast.AST]]:
    for loaded in _loaded_modules():
        relative = loaded.path.relative_to(REPO_ROOT).as_posix()
        for node in [*loaded.defs.values(), *loaded.top]:
            yield relative, node


def _loaded_modules() -> Iterator[_Module]:
    for path in sorted(REPO_ROOT.glob("functions/**/*.py")) + sorted(REPO_ROOT.glob("shared/**/*.py")):
        parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        loaded = _load(module)
        if loaded is not None:
            yield loaded


def calls_in_files(paths: list[Path], methods: frozenset[str]) -> set[ClientCall]:
    """Every call of the named methods anywhere in the files (for code outside the functions: the trainer)."""
    calls = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods:
                where = f"{path.relative_to(REPO_ROOT).as_posix()}:{node.lineno}"
                calls.add(ClientCall(node.func.attr, where, ast.unparse(node.func.value)))
    return calls
