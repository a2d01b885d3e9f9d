"""One PNG: per symbol, the test period's actual close, the model's forecast and the naive baseline."""

from __future__ import annotations

import numpy as np

from flexrun_trainer.windows import Samples


def plot_forecasts(test: Samples, model_close: np.ndarray, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on Vertex or in CI
    import matplotlib.pyplot as plt

    symbols = sorted(set(test.symbol))
    fig, axes = plt.subplots(len(symbols), 1, figsize=(10, 2.8 * len(symbols)), squeeze=False)
    for ax, symbol in zip(axes[:, 0], symbols, strict=True):
        m = test.symbol == symbol
        dates = test.target_date[m]
        ax.plot(dates, test.target_close[m], label="actual close", color="black", linewidth=1.2)
        ax.plot(dates, test.last_close[m], label="naive (last value)", color="tab:gray", linewidth=0.8, linestyle="--")
        ax.plot(dates, model_close[m], label="model", color="tab:blue", linewidth=0.9)
        ax.set_title(symbol, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper left", fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
