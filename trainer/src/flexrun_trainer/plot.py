"""One PNG a person reads right: per symbol, the forecasts against the actual close, and where they err.

Why this layout: the model's forecast is last_close · exp(r̂) with |r̂| around 0.05 %, so on a price
axis it lies within a pixel of the naive forecast over a whole test period and a reader sees "tracks
the price well" (it is the naive forecast that does). So, per symbol:
- left: the last ZOOM_DAYS test days, actual close as a line, naive and model as distinct markers,
  with the mean gap between model and naive written on the panel;
- right: the cumulative squared-error advantage of the model over naive (and over drift) across the
  whole test period: rising = the model is doing better, flat = no difference, falling = worse;
- the panel title carries the symbol's MASE and the test against naive with its verdict.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flexrun_trainer.windows import Samples

ZOOM_DAYS = 40


def _symbol_title(symbol: str, block: dict[str, Any]) -> str:
    t = block["tests"]["naive_last_value"]
    word = "EDGE" if t["edge"] else "no significant edge"
    return (
        f"{symbol}: MASE {block['model']['mase']:.3f} (naive {block['naive_last_value']['mase']:.3f}); "
        f"vs naive: gain {t['gain']:+.1%} [{t['ci95'][0]:+.1%}, {t['ci95'][1]:+.1%}], p={t['p_value']:.2f} → {word}"
    )


def plot_forecasts(
    test: Samples, model_return: np.ndarray, drift_return: np.ndarray, evaluation: dict[str, Any], path: str, title: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on Vertex or in CI
    import matplotlib.pyplot as plt

    symbols = sorted(set(test.symbol))
    fig, axes = plt.subplots(
        len(symbols), 2, figsize=(13, 3.4 * len(symbols)), squeeze=False, gridspec_kw={"width_ratios": [1.1, 1]}
    )
    for row, symbol in enumerate(symbols):
        m = test.symbol == symbol
        dates, actual, last = test.target_date[m], test.target_close[m], test.last_close[m]
        model_close = last * np.exp(model_return[m])
        price, gain = axes[row, 0], axes[row, 1]
        z = slice(-ZOOM_DAYS, None)
        price.plot(dates[z], actual[z], color="black", linewidth=1.3, label="actual close")
        price.plot(dates[z], last[z], "x", color="tab:orange", markersize=6, label="naive forecast (last close)")
        price.plot(dates[z], model_close[z], "o", mfc="none", color="tab:blue", markersize=6, label="model forecast")
        gap = float(np.mean(np.abs(model_close / last - 1))) * 100
        price.text(
            0.01,
            0.03,
            f"model differs from naive by {gap:.3f} % of the price on average",
            transform=price.transAxes,
            fontsize=8,
            color="tab:blue",
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
        )
        price.set_title(_symbol_title(symbol, evaluation["per_symbol"][symbol]), fontsize=9, loc="left")
        price.set_ylabel(f"{symbol} close")
        price.set_xlabel(f"target date (last {ZOOM_DAYS} test days)")
        price.tick_params(axis="x", labelsize=7, labelrotation=20)
        price.grid(alpha=0.3)

        y = test.y[m]
        model_sq = (model_return[m] - y) ** 2
        scale = float(np.mean(y**2)) or 1.0
        for name, base, color in (("naive", np.zeros(len(y)), "tab:orange"), ("drift", drift_return[m], "tab:green")):
            advantage = np.cumsum((base - y) ** 2 - model_sq) / scale
            gain.plot(dates, advantage, color=color, linewidth=1.2, label=f"model's advantage over {name}")
        gain.axhline(0, color="black", linewidth=0.8)
        gain.set_ylabel("cumulative squared-error\nadvantage (test-days' worth)")
        gain.set_xlabel("target date (whole test period); rising = model better")
        gain.tick_params(axis="x", labelsize=7, labelrotation=20)
        gain.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper left", fontsize=7)
    axes[0, 1].legend(loc="upper left", fontsize=7)
    fig.suptitle(f"{title}\n{evaluation['verdict']} (pooled, 5 % level)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
