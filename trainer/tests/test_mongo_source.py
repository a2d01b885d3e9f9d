"""MongoDB as a data source, against a real wire-protocol server (nx-27017), not a mock."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pymongo
import pytest
from conftest import FAST_ARGS, run_module
from flexrun_trainer.config import parse_config
from flexrun_trainer.data import load_prices, validate
from flexrun_trainer.pipeline import run


def _count(url: str, collection: str) -> int:
    with pymongo.MongoClient(url) as client:
        return int(client.get_default_database()[collection].count_documents({}))


def test_loader_round_trip_returns_the_csv_rows(mongo_url: str, small_csv: Path) -> None:
    result = run_module(
        "flexrun_trainer.load_mongo", "--url", mongo_url, "--csv", str(small_csv), "--collection", "roundtrip"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    loaded = json.loads(result.stdout.splitlines()[-1])
    expected = validate(pd.read_csv(small_csv), "csv")
    assert loaded["event"] == "mongo_loaded" and loaded["inserted"] == len(expected)

    frame, source = load_prices("mongodb", mongo_url=mongo_url, mongo_collection="roundtrip")
    assert source == "mongodb:flexrun_test.roundtrip"
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False)


def test_loading_twice_does_not_duplicate_days(mongo_url: str, small_csv: Path, tmp_path: Path) -> None:
    from flexrun_trainer.load_mongo import main as load_main

    assert load_main(["--url", mongo_url, "--csv", str(small_csv), "--collection", "twice"]) == 0
    # The second file overlaps the first and corrects one close: the day is updated, not duplicated.
    frame = pd.read_csv(small_csv)
    frame.loc[0, "close"] = (frame.loc[0, "high"] + frame.loc[0, "low"]) / 2  # a close within the day's range
    frame.head(50).to_csv(tmp_path / "overlap.csv", index=False)
    assert load_main(["--url", mongo_url, "--csv", str(tmp_path / "overlap.csv"), "--collection", "twice"]) == 0
    assert _count(mongo_url, "twice") == len(frame)
    with pymongo.MongoClient(mongo_url) as client:
        doc = client.get_default_database()["twice"].find_one(
            {"symbol": frame.loc[0, "symbol"], "close": float(frame.loc[0, "close"])}
        )
    assert doc is not None


def test_symbols_filter_is_applied_in_the_query(mongo_url: str, small_csv: Path) -> None:
    assert (
        run_module(
            "flexrun_trainer.load_mongo", "--url", mongo_url, "--csv", str(small_csv), "--collection", "filtered"
        ).returncode
        == 0
    )
    frame, _ = load_prices("mongodb", symbols=("MSFT",), mongo_url=mongo_url, mongo_collection="filtered")
    assert set(frame["symbol"]) == {"MSFT"}


@pytest.mark.slow
def test_trainer_reads_prices_from_mongodb(mongo_url: str, tmp_path: Path) -> None:
    from flexrun_trainer.load_mongo import main as load_main

    assert load_main(["--url", mongo_url, "--collection", "prices"]) == 0  # the whole shipped sample
    env = {"MONGODB_URL": mongo_url}
    metrics = run(
        parse_config(["--output-dir", str(tmp_path), "--data", "mongodb", *FAST_ARGS, "--epochs", "1"], env=env),
        env=env,
    )
    assert metrics["run"]["data_source"] == "mongodb:flexrun_test.prices"
    assert metrics["run"]["symbols"] == ["SPX"]


def test_empty_collection_is_a_data_error(mongo_url: str, tmp_path: Path) -> None:
    result = run_module(
        "flexrun_trainer.task",
        "--output-dir",
        str(tmp_path),
        "--data",
        "mongodb",
        "--mongo-collection",
        "nothing_here",
        env={"MONGODB_URL": mongo_url},
    )
    assert result.returncode == 3


def test_unreachable_mongodb_is_a_data_error(tmp_path: Path) -> None:
    result = run_module("flexrun_trainer.load_mongo", "--url", "mongodb://127.0.0.1:1/x?serverSelectionTimeoutMS=300")
    assert result.returncode == 3
