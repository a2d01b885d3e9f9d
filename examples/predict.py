"""Tomorrow's close as the mean of the last closes: a one-file script that `flexrun package wrap` deploys.

python examples/predict.py --window 3 --closes 101.5,102.0,103.25,102.75
flexrun package wrap examples/predict.py --requirements examples/requirements.txt
"""

import argparse
import json
import sys

import numpy as np

SAMPLE_CLOSES = "187.4,189.1,188.6,190.3,191.0,190.2,192.5"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--closes", default=SAMPLE_CLOSES, help="comma-separated daily closes, oldest first")
    parser.add_argument("--window", type=int, default=5, help="how many of the last closes to average")
    args = parser.parse_args(argv)
    closes = np.array([float(value) for value in args.closes.split(",")])
    if not 1 <= args.window <= len(closes):
        print(f"--window must be between 1 and {len(closes)}", file=sys.stderr)
        return 2
    predicted = float(closes[-args.window :].mean())
    change = 100 * (predicted / closes[-1] - 1)
    print(
        json.dumps({"last_close": closes[-1], "predicted_close": round(predicted, 4), "change_pct": round(change, 3)})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
