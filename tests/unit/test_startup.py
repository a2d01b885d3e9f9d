"""A function's imports run with collections paused and end frozen (shared/config/startup.py)."""

from __future__ import annotations

import gc
import os
import sys

from shared.config import startup


def test_imports_before_fork_pause_collections_then_freeze_what_they_built_and_resume(monkeypatch):
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "")  # restored after the test
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS")
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    try:
        with startup.imports_before_fork():
            assert not gc.isenabled()
            built = [[index] for index in range(1000)]  # containers: tracked by the collector
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + len(built)
        assert os.environ["PYDANTIC_DISABLE_PLUGINS"] == "__all__"  # no entry point scan on the first model
    finally:
        gc.unfreeze()


def test_imports_before_fork_leave_collections_off_and_a_deployments_plugin_setting_as_they_were(monkeypatch):
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "logfire")
    gc.disable()
    try:
        with startup.imports_before_fork():
            pass
        assert not gc.isenabled()
        assert os.environ["PYDANTIC_DISABLE_PLUGINS"] == "logfire"
    finally:
        gc.enable()
        gc.unfreeze()


def test_preload_imports_the_named_modules(tmp_path, monkeypatch):
    (tmp_path / "flexrun_preload_probe.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    startup.preload("flexrun_preload_probe")
    assert sys.modules["flexrun_preload_probe"].LOADED
    monkeypatch.delitem(sys.modules, "flexrun_preload_probe")
