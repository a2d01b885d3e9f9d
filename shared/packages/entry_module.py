"""The entry module's shape, read with `ast`: it compiles, has the `__main__` guard, and calls no
`main()` at import time. `compile()` only turns source into a code object, which is thrown away."""

from __future__ import annotations

import ast
import re

Reasons = list[tuple[str, str]]
# A dotted module name `python -m` accepts; anything else (a path, `..`) could never be run.
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def is_module_name(name: str) -> bool:
    return len(name) <= 200 and _MODULE_NAME.fullmatch(name) is not None


def module_paths(module: str) -> tuple[str, ...]:
    """Where the module's source lives in an sdist: flat layout or `src/` layout."""
    relative = module.replace(".", "/") + ".py"
    return (relative, "src/" + relative)


def _is_main_guard(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, *test.comparators]
    has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
    has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
    return has_name and has_main


def _calls_main(node: ast.AST) -> bool:
    """A call of `main` that runs when the statement runs (function and class bodies don't run)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
        return False
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name == "main":
            return True
    return any(_calls_main(child) for child in ast.iter_child_nodes(node))


def check_entry_module(path: str, source: bytes) -> Reasons:
    try:
        tree = ast.parse(source, filename=path)
        compile(tree, path, "exec")  # compile only: the code object is discarded, never executed
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return [("entry_module_syntax", f"{path} does not compile: {exc.__class__.__name__}: {exc}")]
    reasons: Reasons = []
    guards = [node for node in tree.body if isinstance(node, ast.If) and _is_main_guard(node.test)]
    if not guards:
        reasons.append(("no_main_guard", f'{path} has no `if __name__ == "__main__":` guard'))
    unguarded = [node for node in tree.body if not (isinstance(node, ast.If) and node in guards)]
    unguarded += [statement for guard in guards for statement in guard.orelse]
    if any(_calls_main(node) for node in unguarded):
        reasons.append(("unconditional_main", f"{path} calls main() at import time, outside the __main__ guard"))
    return reasons
