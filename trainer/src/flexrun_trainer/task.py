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


def _output_dir(argv: Sequence[str] | None) -> str:
    """Where outcome.json goes even when the arguments did not parse: --output-dir, else AIP_MODEL_DIR."""
    import argparse

    lenient = argparse.ArgumentParser(add_help=False)
    lenient.add_argument("--output-dir", default=None)
    known, _ = lenient.parse_known_args(list(argv) if argv is not None else sys.argv[1:])
    return str(known.output_dir or os.environ.get("AIP_MODEL_DIR", ""))


def main(argv: Sequence[str] | None = None) -> int:
    # Quiet TensorFlow's C++ start-up chatter (it is not JSON); an explicit setting wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from flexrun_trainer import outcome
    from flexrun_trainer.config import parse_config
    from flexrun_trainer.logs import setup_logging
    from flexrun_trainer.pipeline import run
    from flexrun_trainer.secrets import resolve_secret_env

    log = setup_logging()
    failure: dict[str, object] | None = None
    try:
        resolved = resolve_secret_env(os.environ)
        if resolved:
            log.info("secrets read from Secret Manager", extra={"event": "secrets", "names": resolved})
        cfg = parse_config(argv)
        run(cfg, dict(os.environ))
    except SystemExit as exc:  # argparse: --help (0) or malformed flags (2)
        code = exc.code if isinstance(exc.code, int) else EXIT_UNEXPECTED
        if code == EXIT_OK:
            return code
        log.error("bad arguments", extra={"event": "run_failed", "exit_code": code})
        failure = outcome.document(code, "bad arguments: see the usage line in the log", reason="bad_arguments")
    except TrainerError as exc:
        log.error(str(exc), extra={"event": "run_failed", "exit_code": exc.exit_code, "error": type(exc).__name__})
        failure = outcome.document(exc.exit_code, exc)
    except Exception as exc:  # a bug: keep the traceback in the log, report 1
        log.exception(
            "unexpected failure",
            extra={"event": "run_failed", "exit_code": EXIT_UNEXPECTED, "error": type(exc).__name__},
        )
        failure = outcome.document(EXIT_UNEXPECTED, exc)
    if failure is None:
        return EXIT_OK
    from flexrun_trainer.distribute import cluster_from_env

    try:
        chief = cluster_from_env(os.environ).is_chief
    except TrainerError:
        chief = True  # a broken TF_CONFIG: say so where the run's outputs go
    target = _output_dir(argv) if chief else ""  # one replica reports, as one writes outputs
    if target and not outcome.write_failure(target, failure):
        log.warning("could not write outcome.json", extra={"event": "outcome_not_written", "output_dir": target})
    exit_code = failure["exit_code"]
    return exit_code if isinstance(exit_code, int) else EXIT_UNEXPECTED


if __name__ == "__main__":
    sys.exit(main())
