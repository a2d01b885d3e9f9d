"""No leakage: what the model trains on, and how it is scaled, never depends on later days."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from flexrun_trainer.data import validate
from flexrun_trainer.errors import DataError
from flexrun_trainer.windows import FEATURES, Scaler, latest_windows, make_samples, symbol_features, time_split


@pytest.fixture
def prices(sample_frame: pd.DataFrame) -> pd.DataFrame:
    return validate(sample_frame[sample_frame["date"] >= "2014-01-01"], "sample")


def test_split_is_time_ordered_and_shared_by_all_symbols(prices: pd.DataFrame) -> None:
    split = time_split(make_samples(prices, window=20, ma_window=5), 0.15, 0.15)
    assert split.train.target_date.max() < split.val_start <= split.val.target_date.min()
    assert split.val.target_date.max() < split.test_start <= split.test.target_date.min()
    # Every symbol is cut at the same calendar dates: none trains on a day another is tested on.
    for part in (split.train, split.val, split.test):
        assert set(part.symbol) == {"IXIC", "MSFT", "SPX"}
    assert (split.train.last_date < split.train.target_date).all()


def test_inputs_end_the_day_before_the_target(prices: pd.DataFrame) -> None:
    samples = make_samples(prices, window=10, ma_window=5)
    spx = prices[prices["symbol"] == "SPX"].reset_index(drop=True)
    feats = symbol_features(spx)
    i = int(np.flatnonzero(samples.symbol == "SPX")[37])
    t = int(np.flatnonzero(spx["date"].to_numpy("datetime64[D]") == samples.last_date[i])[0])
    np.testing.assert_allclose(samples.x[i], feats[t - 9 : t + 1].astype(np.float32))
    assert samples.y[i] == pytest.approx(np.log(spx["close"][t + 1] / spx["close"][t]))
    assert samples.target_close[i] == spx["close"][t + 1]
    assert samples.ma_close[i] == pytest.approx(spx["close"][t - 4 : t + 1].mean())


def test_later_prices_do_not_change_training_samples_or_scaler(prices: pd.DataFrame) -> None:
    base = time_split(make_samples(prices, 20, 5), 0.15, 0.15)
    shocked = prices.copy()
    later = shocked["date"] >= pd.Timestamp(base.val_start)
    shocked.loc[later, ["open", "high", "low", "close"]] *= 7.0  # a wild future
    shocked.loc[later, "volume"] *= 100
    moved = time_split(make_samples(shocked, 20, 5), 0.15, 0.15)
    np.testing.assert_array_equal(base.train.x, moved.train.x)
    np.testing.assert_array_equal(base.train.y, moved.train.y)
    a, b = Scaler.fit(base.train), Scaler.fit(moved.train)
    np.testing.assert_array_equal(a.x_mean, b.x_mean)
    np.testing.assert_array_equal(a.x_std, b.x_std)
    assert (a.y_mean, a.y_std) == (b.y_mean, b.y_std)


def test_scaler_round_trips_targets(prices: pd.DataFrame) -> None:
    train = time_split(make_samples(prices, 20, 5), 0.15, 0.15).train
    scaler = Scaler.fit(train)
    np.testing.assert_allclose(scaler.y_inverse(scaler.y(train.y)), train.y, atol=1e-6)
    assert scaler.x(train.x).shape == train.x.shape
    assert abs(float(scaler.x(train.x)[..., 0].mean())) < 1e-3


def test_latest_window_is_the_last_days_of_each_symbol(prices: pd.DataFrame) -> None:
    latest = latest_windows(prices, window=20, ma_window=5)
    assert latest.symbol == ["IXIC", "MSFT", "SPX"]
    assert latest.x.shape == (3, 20, len(FEATURES))
    assert {str(d) for d in latest.last_date} == {"2017-11-10"}


def test_too_short_history_is_a_data_error(prices: pd.DataFrame) -> None:
    with pytest.raises(DataError):
        time_split(make_samples(prices.groupby("symbol").head(40), 20, 5), 0.15, 0.15)
