"""From prices to supervised samples: features, sliding windows, a time-ordered split and a scaler.

Pure numpy/pandas (no TensorFlow) so the leakage rules can be tested in milliseconds:
- a sample is (features of days t-window+1..t) → log return from day t to day t+1;
- a sample belongs to the split of its *target* date, and the cut dates are shared by all symbols, so
  no symbol trains on a day another symbol is tested on;
- the scaler is fitted on training samples only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from flexrun_trainer.errors import DataError

FEATURES = ("log_return", "log_range", "open_to_close", "log_volume_change")
MIN_TRAIN, MIN_EVAL = 50, 5  # below these the model and the metrics mean nothing


def _filled_volume(volume: np.ndarray) -> np.ndarray:
    """Zero volume (a feed's gap: index days sometimes report 0) carries the last known volume forward.

    Left as 0, one such day makes two changes of about ±20 in log volume, which inflates that
    feature's standard deviation (2.6x on the shipped sample with two such rows) and squashes every
    real change toward 0 after scaling. A series that never reports volume stays all zero.
    """
    known = volume > 0
    if not known.any():
        return volume
    index = np.where(known, np.arange(len(volume)), 0)
    np.maximum.accumulate(index, out=index)
    filled = volume[index]
    first = int(np.argmax(known))
    filled[:first] = volume[first]  # leading zeros take the first known volume
    return filled


def symbol_features(one: pd.DataFrame) -> np.ndarray:
    """Scale-free daily features; row 0 has no previous day, so its changes are 0 and it is never used."""
    close = one["close"].to_numpy(np.float64)
    log_close = np.log(close)
    log_volume = np.log1p(_filled_volume(one["volume"].to_numpy(np.float64)))
    out = np.zeros((len(one), len(FEATURES)))
    out[1:, 0] = np.diff(log_close)
    out[:, 1] = np.log(one["high"].to_numpy(np.float64) / one["low"].to_numpy(np.float64))
    out[:, 2] = log_close - np.log(one["open"].to_numpy(np.float64))
    out[1:, 3] = np.diff(log_volume)
    return out


@dataclass(frozen=True)
class Samples:
    x: np.ndarray  # (n, window, features), unscaled
    y: np.ndarray  # (n,) log return from last_date to target_date
    symbol: np.ndarray  # (n,) str
    last_date: np.ndarray  # (n,) datetime64: the last day the model sees
    target_date: np.ndarray  # (n,) datetime64: the day it forecasts
    last_close: np.ndarray
    target_close: np.ndarray
    ma_close: np.ndarray  # mean of the last ma_window closes: the moving-average forecast
    prev_return: np.ndarray  # the last observed daily log return: the naive direction forecast

    def __len__(self) -> int:
        return len(self.y)

    def take(self, mask: np.ndarray) -> Samples:
        return Samples(**{k: v[mask] for k, v in vars(self).items()})


def _first_usable(window: int, ma_window: int) -> int:
    # t must have `window` feature rows starting at row >= 1 and `ma_window` closes ending at t.
    return max(window, ma_window - 1)


def make_samples(frame: pd.DataFrame, window: int, ma_window: int) -> Samples:
    parts: list[dict[str, np.ndarray]] = []
    first = _first_usable(window, ma_window)
    for symbol, one in frame.groupby("symbol", sort=True):
        feats = symbol_features(one)
        n = len(one)
        if n < first + 2:
            continue
        close = one["close"].to_numpy(np.float64)
        dates = one["date"].to_numpy("datetime64[D]")
        t = np.arange(first, n - 1)  # the last day of each window; t + 1 is its target
        wins = sliding_window_view(feats, window, axis=0)  # (n-window+1, features, window)
        parts.append(
            {
                "x": wins[t - window + 1].transpose(0, 2, 1).astype(np.float32),
                "y": np.log(close[t + 1] / close[t]),
                "symbol": np.full(len(t), str(symbol), dtype=object),
                "last_date": dates[t],
                "target_date": dates[t + 1],
                "last_close": close[t],
                "target_close": close[t + 1],
                "ma_close": sliding_window_view(close, ma_window)[t - ma_window + 1].mean(axis=1),
                "prev_return": feats[t, 0],
            }
        )
    if not parts:
        raise DataError(f"no symbol has more than {first + 1} days: too short for --window {window}")
    return Samples(**{k: np.concatenate([p[k] for p in parts]) for k in parts[0]})


@dataclass(frozen=True)
class Split:
    train: Samples
    val: Samples
    test: Samples
    val_start: np.datetime64  # first target date of validation
    test_start: np.datetime64  # first target date of test


def time_split(samples: Samples, val_fraction: float, test_fraction: float) -> Split:
    """Cut the calendar of target dates (shared by all symbols) into train < val < test."""
    dates = np.unique(samples.target_date)
    n = len(dates)
    test_i = int(round(n * (1 - test_fraction)))
    val_i = int(round(n * (1 - test_fraction - val_fraction)))
    if not 0 < val_i < test_i < n:
        raise DataError(f"only {n} forecast days: too few to split into train/validation/test")
    val_start, test_start = dates[val_i], dates[test_i]
    split = Split(
        train=samples.take(samples.target_date < val_start),
        val=samples.take((samples.target_date >= val_start) & (samples.target_date < test_start)),
        test=samples.take(samples.target_date >= test_start),
        val_start=val_start,
        test_start=test_start,
    )
    if len(split.train) < MIN_TRAIN or len(split.val) < MIN_EVAL or len(split.test) < MIN_EVAL:
        raise DataError(
            f"too little data: {len(split.train)} train / {len(split.val)} validation / "
            f"{len(split.test)} test samples (need {MIN_TRAIN}/{MIN_EVAL}/{MIN_EVAL})"
        )
    return split


@dataclass(frozen=True)
class Scaler:
    """Standardisation fitted on training samples only; saved next to the model to reuse it."""

    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: float
    y_std: float

    @classmethod
    def fit(cls, train: Samples) -> Scaler:
        flat = train.x.reshape(-1, train.x.shape[-1]).astype(np.float64)
        x_std = flat.std(axis=0)
        y_std = float(train.y.std())
        return cls(
            x_mean=flat.mean(axis=0),
            x_std=np.where(x_std > 0, x_std, 1.0),  # a constant feature must not divide by zero
            y_mean=float(train.y.mean()),
            y_std=y_std if y_std > 0 else 1.0,
        )

    def x(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.x_mean) / self.x_std).astype(np.float32)

    def y(self, y: np.ndarray) -> np.ndarray:
        return ((y - self.y_mean) / self.y_std).astype(np.float32)

    def y_inverse(self, y_scaled: np.ndarray) -> np.ndarray:
        return np.asarray(y_scaled, np.float64) * self.y_std + self.y_mean

    def as_dict(self) -> dict[str, object]:
        return {
            "features": list(FEATURES),
            "x_mean": self.x_mean.tolist(),
            "x_std": self.x_std.tolist(),
            "y_mean": self.y_mean,
            "y_std": self.y_std,
        }


@dataclass(frozen=True)
class Latest:
    """Each symbol's most recent window: the input of the next-day forecast."""

    x: np.ndarray
    symbol: list[str]
    last_date: list[np.datetime64]
    last_close: np.ndarray
    ma_close: np.ndarray


def latest_windows(frame: pd.DataFrame, window: int, ma_window: int) -> Latest:
    xs, symbols, dates, closes, mas = [], [], [], [], []
    for symbol, one in frame.groupby("symbol", sort=True):
        if len(one) < _first_usable(window, ma_window) + 1:
            continue
        close = one["close"].to_numpy(np.float64)
        xs.append(symbol_features(one)[-window:].astype(np.float32))
        symbols.append(str(symbol))
        dates.append(one["date"].to_numpy("datetime64[D]")[-1])
        closes.append(close[-1])
        mas.append(close[-ma_window:].mean())
    return Latest(np.stack(xs), symbols, dates, np.array(closes), np.array(mas))
