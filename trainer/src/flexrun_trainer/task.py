"""Vertex AI's entry point: `python -m flexrun_trainer.task [--flags]`.

Exit codes: 0 ok, 2 bad arguments or configuration, 3 a data problem, 1 anything unexpected.
Importing this module does nothing: training starts only when it is executed as `__main__`. (The
original notes' guard `or __name__.endswith(".task")` would start training on a plain import.)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from flexrun_trainer.errors import EXIT_OK, EXIT_UNEXPECTED, TrainerError


def main(argv: Sequence[str] | None = None) -> int:
    # Quiet TensorFlow's C++ start-up chatter (it is not JSON); an explicit setting wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from flexrun_trainer.config import parse_config
    from flexrun_trainer.logs import setup_logging
    from flexrun_trainer.pipeline import run
    from flexrun_trainer.secrets import resolve_secret_env

    log = setup_logging()
    try:
        resolved = resolve_secret_env(os.environ)
        if resolved:
            log.info("secrets read from Secret Manager", extra={"event": "secrets", "names": resolved})
        cfg = parse_config(argv)
        run(cfg, dict(os.environ))
    except SystemExit as exc:  # argparse: --help (0) or malformed flags (2)
        code = exc.code if isinstance(exc.code, int) else EXIT_UNEXPECTED
        if code != EXIT_OK:
            log.error("bad arguments", extra={"event": "run_failed", "exit_code": code})
        return code
    except TrainerError as exc:
        log.error(str(exc), extra={"event": "run_failed", "exit_code": exc.exit_code, "error": type(exc).__name__})
        return exc.exit_code
    except Exception as exc:  # a bug: keep the traceback in the log, report 1
        log.exception(
            "unexpected failure",
            extra={"event": "run_failed", "exit_code": EXIT_UNEXPECTED, "error": type(exc).__name__},
        )
        return EXIT_UNEXPECTED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
