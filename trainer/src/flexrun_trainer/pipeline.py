"""One training run, start to finish: load → window → split → train → evaluate → write.

`run` takes a validated TrainConfig and the environment, and returns the metrics document it wrote.
Data is loaded and checked before TensorFlow is imported: a bad input fails in a second, not after
TensorFlow's import and a GPU's warm-up.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from flexrun_trainer import DIST_NAME, __version__
from flexrun_trainer.config import TrainConfig
from flexrun_trainer.data import load_prices, stale_symbols
from flexrun_trainer.distribute import cluster_from_env
from flexrun_trainer.ensemble import Member, average, combined_model, spread, train_members
from flexrun_trainer.errors import DataError
from flexrun_trainer.logs import get_logger
from flexrun_trainer.metrics import TrainingFacts, evaluate
from flexrun_trainer.outcome import OUTCOME
from flexrun_trainer.outcome import document as outcome_document
from flexrun_trainer.outputs import OutputDir
from flexrun_trainer.schema import PREDICTIONS_SCHEMA_VERSION, SCHEMA_VERSION
from flexrun_trainer.windows import FEATURES, Scaler, Split, latest_windows, make_samples, time_split

MODEL_FILE = "model.keras"
# Publishing order: the model and its inputs first, metrics.json (what readers poll) last before _SUCCESS.
OUTPUT_FILES = [MODEL_FILE, "preprocessing.json", "forecast.png", "predictions.json", OUTCOME, "metrics.json"]


class _Phases:
    """Wall time per phase, logged as it ends and reported in metrics.json."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def done(self, name: str, started: float, **fields: Any) -> float:
        now = time.perf_counter()
        self.seconds[name] = round(now - started, 3)
        get_logger().info(
            f"phase {name} done", extra={"event": "phase", "phase": name, "seconds": self.seconds[name], **fields}
        )
        return now


def _day(value: Any) -> str:
    return str(np.datetime64(value, "D"))


def _split_info(split: Split) -> dict[str, Any]:
    parts = {"train": split.train, "validation": split.val, "test": split.test}
    return {
        name: {
            "samples": len(s),
            "first_target_date": _day(s.target_date.min()),
            "last_target_date": _day(s.target_date.max()),
        }
        for name, s in parts.items()
    }


def run(cfg: TrainConfig, env: Mapping[str, str]) -> dict[str, Any]:
    log = get_logger()
    started_at = datetime.now(timezone.utc)
    t_run = t = time.perf_counter()
    phases = _Phases()
    log.info("run started", extra={"event": "run_started", "version": __version__, "config": cfg.as_dict()})

    cluster = cluster_from_env(env)
    scratch = None
    target = cfg.output_dir
    if not cluster.is_chief:
        # Every replica runs the same steps (each collective needs them all), but only the chief's
        # files are published: the others write into a scratch directory that is thrown away.
        scratch = tempfile.mkdtemp(prefix="flexrun-worker-")
        target = scratch
        log.info("not the chief: outputs are discarded", extra={"event": "replica", **cluster.as_dict()})
    out = OutputDir(target)
    try:
        out.clear_success()
        frame, source = load_prices(
            cfg.data,
            symbols=cfg.symbols,
            start=cfg.start_date,
            end=cfg.end_date,
            mongo_url=env.get("MONGODB_URL"),
            mongo_db=cfg.mongo_db,
            mongo_collection=cfg.mongo_collection,
        )
        split = time_split(make_samples(frame, cfg.window, cfg.ma_window), cfg.val_fraction, cfg.test_fraction)
        scaler = Scaler.fit(split.train)
        latest = latest_windows(frame, cfg.window, cfg.ma_window)
        stale = stale_symbols(frame, cfg.max_data_age_days, pd.Timestamp(cfg.as_of) if cfg.as_of else None)
        if stale:
            log.warning("stale symbols get no forecast", extra={"event": "stale_symbols", "symbols": stale})
        t = phases.done("load_data", t, rows=len(frame), source=source, split=_split_info(split))

        from flexrun_trainer import model as tfmodel  # the first TensorFlow import happens here

        device, strategy = tfmodel.configure(cfg.seed, cluster)
        t = phases.done("import_tensorflow", t, device=device.as_dict())

        def train_one(index: int, seed: int) -> Member:
            if index:
                tfmodel.reseed(seed)
            name = "flexrun_gru" if cfg.ensemble == 1 else f"flexrun_gru_{index}"
            net = tfmodel.build(cfg.window, len(FEATURES), cfg.units, cfg.learning_rate, device, strategy, name)
            trained = tfmodel.train(
                net,
                (scaler.x(split.train.x), scaler.y(split.train.y)),
                (scaler.x(split.val.x), scaler.y(split.val.y)),
                epochs=cfg.epochs,
                batch_size=cfg.batch_size,
                patience=cfg.patience,
                seed=seed,
                strategy=strategy,
                workers=device.workers,
            )
            test_r = scaler.y_inverse(tfmodel.predict(net, scaler.x(split.test.x)))
            next_r = scaler.y_inverse(tfmodel.predict(net, scaler.x(latest.x)))
            return Member(seed, net, trained, test_r, next_r)

        members = train_members(cfg.ensemble, cfg.seed, train_one)
        trained = members[0].trained
        t = phases.done(
            "train", t, epochs_run=trained.epochs_run, samples_per_second=round(trained.samples_per_second, 1)
        )

        test_return, next_return = average(members)
        if not (np.isfinite(test_return).all() and np.isfinite(next_return).all()):
            raise DataError("the model produced non-finite forecasts (diverged training): check the data for outliers")
        net = combined_model(members, strategy)
        evaluation = evaluate(split.test, test_return, split.train)
        t = phases.done("evaluate", t, edge=evaluation["edge"], verdict=evaluation["verdict"])

        net.save(out.staged(MODEL_FILE))
        out.write_json(
            "preprocessing.json", {"window": cfg.window, **scaler.as_dict(), "target": "next-day log return of close"}
        )
        from flexrun_trainer.plot import plot_forecasts

        facts = TrainingFacts.of(split.train)
        plot_forecasts(
            split.test,
            test_return,
            facts.per_sample(facts.drift, split.test.symbol, 0.0),
            evaluation,
            out.staged("forecast.png"),
            f"flexrun-trainer {__version__}, seed {cfg.seed}: next-day close, test period "
            f"{evaluation['period']['first_target_date']} to {evaluation['period']['last_target_date']}",
        )
        out.write_json("predictions.json", _predictions(latest, next_return, facts, stale, started_at))
        t = phases.done("write", t)

        finished_at = datetime.now(timezone.utc)
        metrics: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "package": {"name": DIST_NAME, "version": __version__},
            "run": {
                "started_at": started_at.isoformat(),
                "finished_at": finished_at.isoformat(),
                "duration_seconds": round(time.perf_counter() - t_run, 3),
                "phase_seconds": phases.seconds,
                "seed": cfg.seed,
                "data_source": source,
                "symbols": sorted(set(frame["symbol"])),
                "output_dir": cfg.output_dir,
            },
            "config": cfg.as_dict(),
            "data": {
                "rows": int(len(frame)),
                "first_date": _day(frame["date"].min()),
                "last_date": _day(frame["date"].max()),
                "features": list(FEATURES),
                "split": _split_info(split),
                "stale_symbols": stale,
            },
            "training": {
                "model": "gru",
                "parameters": trained.parameters,
                "epochs_max": cfg.epochs,
                "epochs_run": trained.epochs_run,
                "best_epoch": trained.best_epoch,
                "best_val_loss": trained.best_val_loss,
                "early_stopped": trained.early_stopped,
                "samples_per_second": round(trained.samples_per_second, 1),
                "duration_seconds": round(sum(m.trained.seconds for m in members), 3),
                "ensemble": spread(members, split.test, split.train),
                "device": {**device.as_dict(), "xla": trained.xla},
                "batch_size_per_replica": cfg.batch_size,
                "global_batch_size": trained.global_batch_size,
                "replica": cluster.as_dict(),
            },
            "evaluation": evaluation,
            "outcome": outcome_document(0),
        }
        out.write_json(OUTCOME, metrics["outcome"])
        out.write_json("metrics.json", metrics)
        out.publish(OUTPUT_FILES, __version__)
        log.info(
            "run finished",
            extra={
                "event": "run_finished",
                "output_dir": cfg.output_dir,
                "seconds": metrics["run"]["duration_seconds"],
                "edge": evaluation["edge"],
                "verdict": evaluation["verdict"],
            },
        )
        return metrics
    finally:
        out.cleanup()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def _predictions(
    latest: Any, next_return: np.ndarray, facts: TrainingFacts, stale: dict[str, str], generated_at: datetime
) -> dict[str, Any]:
    items = []
    for i, symbol in enumerate(latest.symbol):
        if symbol in stale:
            continue
        last_date = pd.Timestamp(latest.last_date[i])
        items.append(
            {
                "symbol": symbol,
                "last_date": last_date.strftime("%Y-%m-%d"),
                # The next weekday; exchange holidays are not modelled.
                "target_date": (last_date + pd.offsets.BDay(1)).strftime("%Y-%m-%d"),
                "last_close": float(latest.last_close[i]),
                "predicted_close": float(latest.last_close[i] * np.exp(next_return[i])),
                "predicted_return": float(next_return[i]),
                "baselines": {
                    "naive_last_value": float(latest.last_close[i]),
                    "moving_average": float(latest.ma_close[i]),
                    "drift": float(latest.last_close[i] * np.exp(facts.drift.get(symbol, 0.0))),
                },
            }
        )
    return {
        "schema_version": PREDICTIONS_SCHEMA_VERSION,
        "package_version": __version__,
        "generated_at": generated_at.isoformat(),
        "model": "gru",
        "horizon_days": 1,
        "predictions": items,
        # Symbols without a forecast, and why: a "next-day" forecast for a series that ended long ago
        # would be dated years back and mean nothing.
        "skipped": [{"symbol": s, "reason": f"stale: {why}"} for s, why in sorted(stale.items())],
    }
