"""Is the model's gain over a baseline more than luck? A Diebold–Mariano test with a HAC variance.

Given the per-day loss differential d_t = loss(baseline)_t - loss(model)_t (positive: the model did
better that day), the test asks whether mean(d) differs from 0. Daily losses are autocorrelated
(volatility clusters), so the variance of the mean is the Newey–West (Bartlett kernel) long-run
variance, not var(d)/n, and the statistic gets the Harvey–Leybourne–Newbold small-sample factor.
With n of a few hundred the normal distribution is used for the p-value (no SciPy in the image's
minimum set; math.erfc is exact for the normal tail).

Why not a bootstrap: the DM statistic is the textbook test for comparing forecasts, deterministic
(no resampling seed to report) and costs microseconds; a block bootstrap needs a block length choice
that is no less arbitrary than the Newey–West lag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ALPHA = 0.05
_Z = 1.959963984540054  # the two-sided 95 % normal quantile
_STAT_CAP = 1e9  # a zero-variance gain (a perfect forecast): JSON has no infinity


def newey_west_lag(n: int) -> int:
    """The usual automatic bandwidth floor(4 (n/100)^(2/9)): 4 lags for 100 days, 5 for 300."""
    return int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0))) if n > 0 else 0


def long_run_variance(d: np.ndarray, lag: int) -> float:
    u = d - d.mean()
    n = len(u)
    var = float(u @ u) / n
    for k in range(1, min(lag, n - 1) + 1):
        var += 2.0 * (1.0 - k / (lag + 1.0)) * float(u[k:] @ u[:-k]) / n
    return var


@dataclass(frozen=True)
class Comparison:
    """Model against one baseline on one loss: the gain, its 95 % interval, the test's p-value."""

    measure: str  # what the loss is, e.g. "squared_return_error"
    samples: int
    baseline_loss: float  # mean loss of the baseline (the unit of `gain`)
    gain: float  # mean(d) / baseline_loss: 0.02 = the model's loss is 2 % lower
    ci95: tuple[float, float]
    statistic: float
    p_value: float
    lag: int

    @property
    def edge(self) -> bool:
        """True only when the model is better and the difference is significant at 5 %."""
        return self.gain > 0 and self.p_value < ALPHA

    def as_dict(self) -> dict[str, object]:
        return {
            "measure": self.measure,
            "samples": self.samples,
            "gain": self.gain,
            "ci95": list(self.ci95),
            "statistic": self.statistic,
            "p_value": self.p_value,
            "hac_lag": self.lag,
            "edge": self.edge,
        }


def compare(d: np.ndarray, baseline_loss: np.ndarray, measure: str, relative: bool = True) -> Comparison:
    """Diebold–Mariano on the loss differential d; the gain relative to the baseline's mean loss
    (or, with relative=False, in the loss's own units: accuracy points for a hit/miss loss)."""
    d = np.asarray(d, np.float64)
    n = len(d)
    scale = float(np.mean(baseline_loss)) if relative else 1.0
    if n < 2 or not scale > 0:
        return Comparison(measure, n, scale, 0.0, (0.0, 0.0), 0.0, 1.0, 0)
    lag = newey_west_lag(n)
    mean = float(d.mean())
    var = long_run_variance(d, lag)
    se = math.sqrt(var / n) if var > 0 else 0.0
    if se == 0.0:  # identical forecasts (d all equal): no evidence either way unless d is a constant gain
        p = 0.0 if mean != 0 else 1.0
        stat = math.copysign(_STAT_CAP, mean) if mean != 0 else 0.0
    else:
        # Harvey, Leybourne & Newbold (1997) for a one-step horizon: sqrt((n - 1) / n).
        stat = mean / se * math.sqrt((n - 1) / n)
        p = math.erfc(abs(stat) / math.sqrt(2.0))
    half = _Z * se
    return Comparison(
        measure=measure,
        samples=n,
        baseline_loss=scale,
        gain=mean / scale,
        ci95=((mean - half) / scale, (mean + half) / scale),
        statistic=stat,
        p_value=p,
        lag=lag,
    )
