"""Daily prices in one tidy frame: symbol, date, open, high, low, close, volume.

Sources: the sample shipped in this package, a CSV file, a gs:// CSV object, or a MongoDB collection.
Every source goes through `validate`, so a bad file fails the same way (DataError, exit 3) wherever it
came from, before TensorFlow is even imported.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from flexrun_trainer.errors import ConfigError, DataError

COLUMNS = ["symbol", "date", "open", "high", "low", "close", "volume"]
PRICE_COLUMNS = ["open", "high", "low", "close"]
SAMPLE_RESOURCE = "data/prices.csv"
DEFAULT_MONGO_DB = "flexrun"


def sample_csv_bytes() -> bytes:
    return resources.files("flexrun_trainer").joinpath(SAMPLE_RESOURCE).read_bytes()


def read_csv_bytes(raw: bytes, default_symbol: str | None = None) -> pd.DataFrame:
    """Parse a CSV in long form (with a symbol column) or one symbol's OHLCV (symbol from the name)."""
    try:
        frame = pd.read_csv(io.BytesIO(raw))
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot parse CSV: {exc}") from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if "symbol" not in frame.columns and default_symbol:
        frame["symbol"] = default_symbol
    if "date" not in frame.columns and "unnamed: 0" in frame.columns:  # pandas-style index column
        frame = frame.rename(columns={"unnamed: 0": "date"})
    return frame


def read_csv_source(uri: str) -> pd.DataFrame:
    """A local path or gs:// URI; the symbol defaults to the file's stem for single-symbol files."""
    stem = uri.rstrip("/").rsplit("/", 1)[-1].split(".", 1)[0].upper() or None
    if uri.startswith("gs://"):
        from flexrun_trainer.gcs import download_bytes  # lazy: google-cloud-storage is slow to import

        raw = download_bytes(uri)
    else:
        try:
            with open(uri, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise DataError(f"cannot read {uri}: {exc.strerror or exc}") from exc
    return read_csv_bytes(raw, default_symbol=stem)


def mongo_database(url: str, override: str = "") -> str:
    """The database named by --mongo-db, else the one in the URL path, else 'flexrun'."""
    from pymongo.uri_parser import parse_uri

    try:
        named = parse_uri(url).get("database")
    except Exception as exc:  # pymongo raises InvalidURI / ConfigurationError / ValueError
        raise ConfigError(f"MONGODB_URL is not a valid MongoDB URI: {exc}") from exc
    return override or named or DEFAULT_MONGO_DB


def read_mongo(url: str, database: str, collection: str, symbols: Iterable[str]) -> pd.DataFrame:
    import pymongo
    from pymongo.errors import PyMongoError

    query: dict[str, Any] = {"symbol": {"$in": list(symbols)}} if symbols else {}
    projection = {"_id": 0, **{c: 1 for c in COLUMNS}}
    try:
        timeout: dict[str, Any] = (
            {} if "serverselectiontimeoutms" in url.lower() else {"serverSelectionTimeoutMS": 5000}
        )
        client: Any
        with pymongo.MongoClient(url, **timeout) as client:
            docs = list(client[database][collection].find(query, projection))
    except PyMongoError as exc:
        raise DataError(f"cannot read {database}.{collection} from MongoDB: {exc}") from exc
    if not docs:
        raise DataError(f"MongoDB collection {database}.{collection} has no matching documents")
    return pd.DataFrame(docs)


def _rows(out: pd.DataFrame, bad: pd.Series, problem: Callable[[pd.Series], str], source: str) -> DataError:
    """A DataError naming the first offending row (1-based data row of the source) and the count."""
    first = out[bad].iloc[0]
    date = first["date"].strftime("%Y-%m-%d") if pd.notna(first["date"]) else "?"
    more = int(bad.sum()) - 1
    tail = f" (and {more} more row(s))" if more else ""
    return DataError(f"{source}: row {int(first['_row'])} ({first['symbol']} {date}): {problem(first)}{tail}")


def validate(frame: pd.DataFrame, source: str, today: pd.Timestamp | None = None) -> pd.DataFrame:
    """Types, sanity and order: sorted by (symbol, date), one row per pair, consistent positive prices.

    Every refusal names the source, the first bad row (its 1-based data row: line N+1 of a CSV with a
    header) with its symbol and date, and how many more rows share the problem.
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)}")
    out = frame[COLUMNS].copy()
    out["_row"] = np.arange(1, len(out) + 1)
    out["symbol"] = out["symbol"].astype(str).str.strip().str.upper()
    out["date"] = pd.to_datetime(out["date"], errors="coerce", utc=True).dt.tz_localize(None).dt.normalize()
    for col in PRICE_COLUMNS + ["volume"]:
        out[col] = pd.to_numeric(out[col], errors="coerce")
    bad = out[COLUMNS].isna().any(axis=1)
    if bad.any():
        raise _rows(out, bad, lambda r: "a missing or non-numeric value or date", source)
    numbers = out[PRICE_COLUMNS + ["volume"]].to_numpy(np.float64)
    bad = pd.Series(~np.isfinite(numbers).all(axis=1), index=out.index)
    if bad.any():
        raise _rows(out, bad, lambda r: "a price or volume is not finite (inf)", source)
    bad = (out[PRICE_COLUMNS] <= 0).any(axis=1)
    if bad.any():
        raise _rows(out, bad, lambda r: "prices must be positive", source)
    bad = out["volume"] < 0
    if bad.any():
        raise _rows(out, bad, lambda r: f"volume {r['volume']:g} is negative", source)
    bad = out["high"] < out["low"]
    if bad.any():
        raise _rows(out, bad, lambda r: f"high {r['high']:g} < low {r['low']:g}", source)
    # open and close inside [low, high]: this also catches a typo'd price (a 10x close is above its high).
    for col in ("open", "close"):
        bad = (out[col] > out["high"]) | (out[col] < out["low"])
        if bad.any():

            def outside(r: pd.Series, c: str = col) -> str:
                return f"{c} {r[c]:g} outside [low {r['low']:g}, high {r['high']:g}]"

            raise _rows(out, bad, outside, source)
    if today is None:
        today = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
    bad = out["date"] > today
    if bad.any():
        raise _rows(out, bad, lambda r: f"date is in the future (today is {today:%Y-%m-%d} UTC)", source)
    dupes = out.duplicated(["symbol", "date"], keep="first")
    if dupes.any():
        raise _rows(out, dupes, lambda r: "duplicate date for this symbol", source)
    out = out.sort_values(["symbol", "date"], kind="mergesort").reset_index(drop=True)
    constant = out.groupby("symbol")["close"].nunique()
    flat = sorted(str(s) for s in constant[(constant == 1) & (out.groupby("symbol").size() > 1)].index)
    if flat:
        raise DataError(f"{source}: symbol(s) {', '.join(flat)}: the close never changes (a degenerate series)")
    return out.drop(columns="_row")


def stale_symbols(frame: pd.DataFrame, max_age_days: int, as_of: pd.Timestamp | None = None) -> dict[str, str]:
    """Symbols whose last row is more than max_age_days (calendar days) before as_of, with the reason.

    as_of defaults to the newest date in the data, so a symbol that stopped trading while others went on
    is caught on historical data too; pass today to judge live data.
    """
    last = frame.groupby("symbol")["date"].max()
    reference = as_of if as_of is not None else last.max()
    return {
        str(symbol): f"last row {day:%Y-%m-%d} is {(reference - day).days} days before {reference:%Y-%m-%d}"
        f" (over --max-data-age-days {max_age_days})"
        for symbol, day in last.items()
        if (reference - day).days > max_age_days
    }


def select(
    frame: pd.DataFrame, symbols: tuple[str, ...], start: str | None, end: str | None, source: str
) -> pd.DataFrame:
    if symbols:
        unknown = sorted(set(symbols) - set(frame["symbol"]))
        if unknown:
            raise DataError(f"{source}: no rows for symbol(s) {', '.join(unknown)}")
        frame = frame[frame["symbol"].isin(symbols)]
    try:
        if start:
            frame = frame[frame["date"] >= pd.Timestamp(start)]
        if end:
            frame = frame[frame["date"] <= pd.Timestamp(end)]
    except ValueError as exc:
        raise ConfigError(f"bad --start-date/--end-date: {exc}") from exc
    if frame.empty:
        raise DataError(f"{source}: no rows left after selecting symbols and dates")
    return frame.reset_index(drop=True)


def load_prices(
    data: str,
    *,
    symbols: tuple[str, ...] = (),
    start: str | None = None,
    end: str | None = None,
    mongo_url: str | None = None,
    mongo_db: str = "",
    mongo_collection: str = "prices",
) -> tuple[pd.DataFrame, str]:
    """Load, validate and select; returns the frame and a printable description of the source."""
    if data == "sample":
        source = f"package:flexrun_trainer/{SAMPLE_RESOURCE}"
        frame = read_csv_bytes(sample_csv_bytes())
    elif data == "mongodb":
        if not mongo_url:
            raise ConfigError("--data mongodb needs MONGODB_URL")
        database = mongo_database(mongo_url, mongo_db)
        source = f"mongodb:{database}.{mongo_collection}"
        frame = read_mongo(mongo_url, database, mongo_collection, symbols)
    else:
        source = data
        frame = read_csv_source(data)
    frame = validate(frame, source)
    return select(frame, symbols, start, end, source), source
