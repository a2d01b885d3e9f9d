"""Cloud Functions: each function served by functions-framework in its own process, as deployed."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from deploy.spec import FunctionSpec
from local.services.processes import ManagedProcess, free_port, tcp_probe


def start_function(
    spec: FunctionSpec, state_dir: Path, repo_root: Path, env: Mapping[str, str], source: str | None = None
) -> tuple[ManagedProcess, str]:
    """Serve `spec` (or `source` in its place, for tests) on a free port; returns it and its URL."""
    port = free_port()
    argv = [
        str(Path(sys.executable).parent / "functions-framework"),
        "--source", str(repo_root / (source or spec.source)),
        "--target", spec.target,
        "--signature-type", "cloudevent",
        "--host", "127.0.0.1",
        "--port", str(port),
    ]  # fmt: skip
    # The function sees only the cloud's settings (as a deployed function sees only its own), plus
    # PATH/HOME for subprocesses and PYTHONPATH so `import shared` resolves from the repository.
    process = ManagedProcess(
        name=f"function-{spec.name}",
        argv=argv,
        state_dir=state_dir,
        env={**_inherited(), **env, "PYTHONPATH": str(repo_root), "PYTHONUNBUFFERED": "1"},
        cwd=repo_root,
    )
    # Open port = serving: a GET answers 405 (cloudevent functions take POST only), which is fine.
    process.start(tcp_probe(port), timeout=60)
    return process, f"http://127.0.0.1:{port}/"


def _inherited() -> dict[str, str]:
    return {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
