"""A function instance's start: its imports run once, before functions-framework's gunicorn forks.

functions-framework serves with gunicorn: the arbiter imports `main`, then forks the one worker that
handles every event (functions_framework/_http/gunicorn.py). Two things follow.

- The imports build ~55,000 objects that live as long as the instance (modules, classes, pydantic's
  schemas); every allocation-triggered collection during them walks those objects and frees nearly
  nothing (a full collection after them frees ~400). And a collection in the worker writes each
  inherited object's GC header, so the kernel copies page after page of the arbiter's heap
  (copy-on-write) while the first event waits. Python's own recipe for pre-fork servers is this:
  `gc.disable()` early, `gc.freeze()` before the fork, collections on again after
  (https://docs.python.org/3/library/gc.html#gc.freeze). The ~400 objects that were garbage at the
  freeze stay allocated for the instance's life; a collection to free them would cost ~20 ms.
- What a function's real path always needs is cheaper to import here than on its first event: the
  arbiter imports it with collections paused, and the worker inherits it; imported lazily in the
  worker it costs more (pymongo: ~40 ms here, ~50-70 ms in the worker). `preload` names those modules.
- pydantic looks for plugins on its first model: it reads the entry points of every installed
  distribution (4 ms in the dev venv's ~200, less in a function's own). flexrun uses none, so the
  functions say so with pydantic's documented switch, PYDANTIC_DISABLE_PLUGINS (pydantic#8767), unless
  the deployment sets it itself.

Measured with `python -m bench cold_start` (bench/cold_start.py): see the README's cold start rows.
"""

from __future__ import annotations

import gc
import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def imports_before_fork() -> Iterator[None]:
    """Run `main`'s imports with cyclic collection paused, then freeze what they built."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def preload(*modules: str) -> None:
    """Import the modules a function's real path always uses, with `main` rather than on its first event."""
    for name in modules:
        importlib.import_module(name)
