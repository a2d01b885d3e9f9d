"""A client built on first use, so an event that needs no client never pays for importing one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Lazy:
    """Stands in for the object `factory` returns, building it at the first attribute access.

    Cloud SDK imports cost 0.3-0.7 s each; a function instance whose first events are ignored ones
    (other resources' log entries, non-package objects) answers them without any of that.
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._built: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._built is None:
            self._built = self._factory()
        return getattr(self._built, name)
