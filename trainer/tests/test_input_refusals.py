"""Bad inputs are refused before TensorFlow loads, with a message naming the row or the symbol."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from flexrun_trainer.data import load_prices, stale_symbols, validate
from flexrun_trainer.errors import DataError
from flexrun_trainer.task import main
from flexrun_trainer.windows import Scaler, make_samples, time_split

ROW = 17  # the data row the tests break (0-based index 16 of the SPX/MSFT frame written below)


def _frame(sample_frame: pd.DataFrame) -> pd.DataFrame:
    keep = sample_frame["symbol"].isin(["SPX", "MSFT"]) & (sample_frame["date"] >= "2016-01-01")
    return sample_frame[keep].reset_index(drop=True)


def _set(col: str, value: object) -> Callable[[pd.DataFrame], None]:
    def change(f: pd.DataFrame) -> None:
        f[col] = f[col].astype(object) if isinstance(value, str) else f[col]
        f.loc[ROW - 1, col] = value

    return change


def _typo(f: pd.DataFrame) -> None:
    f.loc[ROW - 1, "close"] *= 10  # a 10x typo: the close is above the day's high


def _duplicate(f: pd.DataFrame) -> None:
    f.loc[ROW - 1, "date"] = f.loc[ROW - 2, "date"]


def _future(f: pd.DataFrame) -> None:
    f.loc[ROW - 1, "date"] = (pd.Timestamp.now() + pd.Timedelta(days=30)).strftime("%Y-%m-%d")


def _inverted(f: pd.DataFrame) -> None:
    f.loc[ROW - 1, ["high", "low"]] = [f.loc[ROW - 1, "low"], f.loc[ROW - 1, "high"]]


@pytest.mark.parametrize(
    "change, words",
    [
        (_set("close", np.inf), "not finite"),
        (_set("open", "inf"), "not finite"),
        (_set("low", 0.0), "positive"),
        (_set("close", -1.0), "positive"),
        (_inverted, "high"),
        (_typo, "close"),
        (_duplicate, "duplicate date"),
        (_future, "in the future"),
    ],
    ids=["inf-close", "inf-text", "zero-price", "negative-price", "high-below-low", "10x-typo", "duplicate", "future"],
)
def test_bad_row_is_refused_by_row_number_and_symbol(
    change: Callable[[pd.DataFrame], None], words: str, sample_frame: pd.DataFrame, tmp_path: Path
) -> None:
    frame = _frame(sample_frame)
    change(frame)
    symbol = frame.loc[ROW - 1, "symbol"]
    path = tmp_path / "prices.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError) as caught:
        load_prices(str(path))
    message = str(caught.value)
    assert f"row {ROW} ({symbol} " in message and words in message and str(path) in message


def test_constant_price_series_is_refused_by_symbol(sample_frame: pd.DataFrame) -> None:
    frame = _frame(sample_frame)
    flat = frame["symbol"] == "MSFT"
    frame.loc[flat, ["open", "high", "low", "close"]] = 50.0
    with pytest.raises(DataError, match="MSFT: the close never changes"):
        validate(frame, "x.csv")


def test_a_bad_file_fails_with_exit_3_before_tensorflow_loads(sample_frame: pd.DataFrame, tmp_path: Path) -> None:
    frame = _frame(sample_frame)
    _inverted(frame)
    frame.to_csv(tmp_path / "bad.csv", index=False)
    was_loaded = "tensorflow" in sys.modules
    assert main(["--output-dir", str(tmp_path / "out"), "--data", str(tmp_path / "bad.csv")]) == 3
    assert was_loaded or "tensorflow" not in sys.modules
    assert f"row {ROW}" in json.loads((tmp_path / "out/outcome.json").read_text())["error"]


def test_a_symbol_whose_data_ended_long_ago_is_stale(sample_frame: pd.DataFrame) -> None:
    frame = validate(_frame(sample_frame), "x")
    ended = frame[(frame["symbol"] == "SPX") | (frame["date"] <= "2017-03-01")]
    stale = stale_symbols(ended, 7)
    assert list(stale) == ["MSFT"] and "days before 2017-11-10" in stale["MSFT"]
    assert stale_symbols(ended, 7, as_of=pd.Timestamp("2017-11-30"))["SPX"].startswith("last row 2017-11-10")
    assert stale_symbols(frame, 7) == {}


def test_zero_volume_rows_do_not_distort_the_volume_scaling(sample_frame: pd.DataFrame) -> None:
    clean = validate(sample_frame[sample_frame["symbol"] == "SPX"], "x")
    gappy = clean.copy()
    gappy.loc[[300, 301, 900], "volume"] = 0
    stds = [Scaler.fit(time_split(make_samples(f, 10, 5), 0.15, 0.15).train).x_std[3] for f in (clean, gappy)]
    assert stds[1] == pytest.approx(stds[0], rel=0.05)
