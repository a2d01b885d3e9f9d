"""Fill a MongoDB collection with daily prices: `python -m flexrun_trainer.load_mongo --url URL --csv FILE`.

Documents are `{symbol, date, open, high, low, close, volume}` with `date` a BSON date (midnight UTC).
Loading is an upsert keyed on (symbol, date) behind a unique index, so running it twice, or on
overlapping files, never duplicates a day. Exit codes as the trainer: 0 ok, 2 bad arguments, 3 bad data.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

import pandas as pd

from flexrun_trainer.data import mongo_database, read_csv_bytes, read_csv_source, sample_csv_bytes, validate
from flexrun_trainer.errors import EXIT_OK, ConfigError, DataError, TrainerError
from flexrun_trainer.logs import setup_logging

DUPLICATE_KEY = 11000  # MongoDB's error code for a unique-index violation


def to_documents(frame: pd.DataFrame) -> list[dict[str, Any]]:
    records: list[dict[Any, Any]] = frame.to_dict("records")
    return [
        {
            "symbol": str(r["symbol"]),
            "date": pd.Timestamp(r["date"]).to_pydatetime(),
            **{c: float(r[c]) for c in ("open", "high", "low", "close")},
            "volume": int(r["volume"]),
        }
        for r in records
    ]


def load(url: str, database: str, collection: str, frame: pd.DataFrame) -> dict[str, int]:
    """Insert new days in bulk; days already present (duplicate key) are updated in place."""
    import pymongo
    from pymongo.errors import BulkWriteError, PyMongoError

    docs = to_documents(frame)
    inserted, updated = len(docs), 0
    try:
        client: Any
        with pymongo.MongoClient(url, **_timeout(url)) as client:
            coll = client[database][collection]
            coll.create_index([("symbol", pymongo.ASCENDING), ("date", pymongo.ASCENDING)], unique=True)
            # insert_many first: per-document upserts are far slower on a large first load.
            try:
                coll.insert_many([dict(d) for d in docs], ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if any(e.get("code") != DUPLICATE_KEY for e in errors):
                    raise
                inserted = int(exc.details.get("nInserted", 0))
                again = [docs[e["index"]] for e in errors]
                result = coll.bulk_write(
                    [pymongo.UpdateOne({"symbol": d["symbol"], "date": d["date"]}, {"$set": d}) for d in again],
                    ordered=False,
                )
                updated = int(result.modified_count)
    except PyMongoError as exc:
        raise DataError(f"cannot write to MongoDB {database}.{collection}: {exc}") from exc
    return {"inserted": inserted, "updated": updated, "rows": len(docs)}


def _timeout(url: str) -> dict[str, Any]:
    # Fail fast when the server is down, unless the URL sets its own timeout.
    return {} if "serverselectiontimeoutms" in url.lower() else {"serverSelectionTimeoutMS": 5000}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m flexrun_trainer.load_mongo", description=__doc__.splitlines()[0])
    p.add_argument("--url", default=os.environ.get("MONGODB_URL"), help="MongoDB URI (default: $MONGODB_URL)")
    p.add_argument("--csv", default="sample", help="a CSV path, or 'sample' for the data shipped in the package")
    p.add_argument("--db", default="", help="database (default: the URL's, else 'flexrun')")
    p.add_argument("--collection", default="prices")
    log = setup_logging()
    try:
        ns = p.parse_args(argv)
        if not ns.url:
            raise ConfigError("no MongoDB URL: pass --url or set MONGODB_URL")
        raw = read_csv_bytes(sample_csv_bytes()) if ns.csv == "sample" else read_csv_source(ns.csv)
        frame = validate(raw, ns.csv)
        database = mongo_database(ns.url, ns.db)
        counts = load(ns.url, database, ns.collection, frame)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    except TrainerError as exc:
        log.error(str(exc), extra={"event": "load_failed", "exit_code": exc.exit_code})
        return exc.exit_code
    log.info(
        "prices loaded", extra={"event": "mongo_loaded", "database": database, "collection": ns.collection, **counts}
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
