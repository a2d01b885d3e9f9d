"""flexrun's reference trainer: a small Keras forecaster that Vertex AI runs as `python -m flexrun_trainer.task`.

Nothing heavy is imported here: importing the package (or `task`) must stay cheap and side-effect free.
"""

from __future__ import annotations

from importlib import metadata

DIST_NAME = "flexrun-trainer"

try:
    __version__ = metadata.version(DIST_NAME)
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
