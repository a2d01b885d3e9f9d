"""PostgREST requests → SQL on PostgreSQL, with PostgREST's documented semantics (see local/standins/postgrest.py).

Identifiers are checked against the catalogue and quoted with psycopg.sql; values are parameters.
Rows go in and out as JSON converted by PostgreSQL itself (`json_populate_recordset`, `json_agg`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

SCHEMA = "public"
_OPERATORS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "like": "like", "ilike": "ilike"}
_RESERVED = {"select", "order", "limit", "offset", "on_conflict", "columns"}
_SQLSTATE_STATUS = {"23505": 409, "23503": 409, "42P01": 404, "42501": 401, "57P01": 503}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.status, self.body = status, {"code": code, "message": message, "details": details, "hint": None}


class Database:
    """One connection per server thread; the table catalogue is read once per relation."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.local = threading.local()
        self.catalogue: dict[str, dict[str, str]] = {}
        self.primary_keys: dict[str, list[str]] = {}

    def connection(self) -> Any:
        import psycopg

        conn = getattr(self.local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            try:
                conn = psycopg.connect(self.dsn, connect_timeout=3)
            except psycopg.OperationalError as exc:
                raise ApiError(503, "PGRST000", "Could not connect to the database", str(exc)[:300]) from exc
            self.local.conn = conn
        return conn

    def columns(self, table: str) -> dict[str, str]:
        """Column name → SQL type of a table or view; 404 as PostgREST's PGRST205 when it is unknown."""
        if table not in self.catalogue:
            rows = (
                self.connection()
                .execute(
                    "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a"
                    " join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace"
                    " where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped"
                    " order by a.attnum",
                    (SCHEMA, table),
                )
                .fetchall()
            )
            keys = (
                self.connection()
                .execute(
                    "select a.attname from pg_index i join pg_class c on c.oid = i.indrelid"
                    " join pg_namespace n on n.oid = c.relnamespace"
                    " join pg_attribute a on a.attrelid = c.oid and a.attnum = any(i.indkey)"
                    " where i.indisprimary and n.nspname = %s and c.relname = %s",
                    (SCHEMA, table),
                )
                .fetchall()
            )
            self.connection().rollback()
            if not rows:
                raise ApiError(404, "PGRST205", f"Could not find the table '{SCHEMA}.{table}' in the schema cache")
            self.catalogue[table] = dict(rows)
            self.primary_keys[table] = [name for (name,) in keys]
        return self.catalogue[table]


def _ident(name: str) -> Any:
    from psycopg import sql

    return sql.Identifier(name)


def _names(value: str) -> list[str]:
    """`a,"b"` → ["a", "b"]: PostgREST accepts quoted identifiers, and supabase-py quotes `columns`."""
    return [name.strip().strip('"') for name in value.split(",") if name.strip()]


def _known(table: str, columns: dict[str, str], names: Sequence[str]) -> list[str]:
    for name in names:
        if name not in columns:
            raise ApiError(400, "PGRST204", f"Could not find the '{name}' column of '{table}' in the schema cache")
    return list(names)


def _where(table: str, columns: dict[str, str], query: list[tuple[str, str]]) -> tuple[Any, list[Any]]:
    """PostgREST horizontal filters → a SQL condition on the alias `_t` and its parameters."""
    from psycopg import sql

    parts: list[sql.Composable] = []
    params: list[Any] = []
    for column, expression in query:
        if column in _RESERVED:
            continue
        _known(table, columns, [column])
        negate = expression.startswith("not.")
        operator, _, value = expression.removeprefix("not.").partition(".")
        target = sql.SQL("_t.{}").format(_ident(column))
        cast = sql.SQL(columns[column])
        if operator in _OPERATORS:
            if operator in ("like", "ilike"):
                value = value.replace("*", "%")
            part = sql.SQL("{} {} %s::{}").format(target, sql.SQL(_OPERATORS[operator]), cast)
            params.append(value)
        elif operator == "is" and value in ("null", "true", "false", "unknown"):
            part = sql.SQL("{} is {}").format(target, sql.SQL(value))
        elif operator == "in" and value.startswith("(") and value.endswith(")"):
            items = [item.strip('"') for item in value[1:-1].split(",")] if value[1:-1] else []
            part = sql.SQL("{} = any(%s::{}[])").format(target, cast)
            params.append(items)
        else:
            raise ApiError(400, "PGRST100", f'"failed to parse filter ({expression})" (line 1, column 1)')
        parts.append(sql.SQL("not ({})").format(part) if negate else part)
    return (sql.SQL(" and ").join(parts) if parts else sql.SQL("true")), params


def _order(table: str, columns: dict[str, str], spec: str | None) -> Any:
    from psycopg import sql

    if not spec:
        return sql.SQL("")
    terms = []
    for term in spec.split(","):
        column, *modifiers = term.split(".")
        _known(table, columns, [column])
        words = {"asc": "asc", "desc": "desc", "nullsfirst": "nulls first", "nullslast": "nulls last"}
        if any(m not in words for m in modifiers):
            raise ApiError(400, "PGRST100", f'"failed to parse order ({spec})" (line 1, column 1)')
        terms.append(
            sql.SQL(" ").join([sql.SQL("_t.{}").format(_ident(column)), *(sql.SQL(words[m]) for m in modifiers)])
        )
    return sql.SQL(" order by ") + sql.SQL(", ").join(terms)


def parse_prefer(header: str | None) -> dict[str, str]:
    pairs = (item.strip().partition("=") for item in (header or "").split(","))
    return {name: value for name, _, value in pairs if name}


def _count(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise ApiError(400, "PGRST100", f"{name} must be a non-negative integer")
    return int(value)


def execute(db: Database, method: str, table: str, query: list[tuple[str, str]], prefer: dict[str, str], body: Any):
    """One PostgREST request in one transaction, as `service_role`; returns (status, rows or None)."""
    import psycopg
    from psycopg import sql

    params = dict(query)
    if orders := [value for name, value in query if name == "order"]:
        params["order"] = ",".join(orders)  # supabase-py sends one `order` per .order() call
    columns = db.columns(table)
    where, where_params = _where(table, columns, query)
    relation = sql.SQL("{}.{}").format(_ident(SCHEMA), _ident(table))
    representation = prefer.get("return") == "representation"
    if method == "GET":
        selected = params.get("select", "*")
        shown = (
            sql.SQL("_t.*")
            if selected == "*"
            else sql.SQL(", ").join(
                sql.SQL("_t.{}").format(_ident(c)) for c in _known(table, columns, _names(selected))
            )
        )
        statement = sql.SQL("select {} from {} as _t where {}{}").format(
            shown, relation, where, _order(table, columns, params.get("order"))
        )
        limit, offset = _count(params.get("limit"), "limit"), _count(params.get("offset"), "offset")
        if limit is not None:
            statement += sql.SQL(" limit {}").format(sql.Literal(limit))
        if offset is not None:
            statement += sql.SQL(" offset {}").format(sql.Literal(offset))
        args, status, representation = where_params, 200, True
    elif method == "POST":
        rows = body if isinstance(body, list) else [body]
        if not rows or not all(isinstance(row, dict) for row in rows):
            raise ApiError(400, "PGRST102", "Body must be a JSON object or a non-empty array of objects")
        names = _names(params["columns"]) if "columns" in params else sorted({k for row in rows for k in row})
        names = _known(table, columns, names)
        listed = sql.SQL(", ").join(map(_ident, names))
        statement = sql.SQL(
            "insert into {} as _t ({}) select {} from json_populate_recordset(null::{}, %s::json)"
        ).format(relation, listed, listed, relation)
        resolution = prefer.get("resolution")
        if resolution in ("merge-duplicates", "ignore-duplicates"):
            target = _names(params["on_conflict"]) if "on_conflict" in params else db.primary_keys[table]
            target = _known(table, columns, target)
            updates = [n for n in names if n not in target]
            statement += sql.SQL(" on conflict ({}) ").format(sql.SQL(", ").join(map(_ident, target)))
            if resolution == "ignore-duplicates" or not updates:
                statement += sql.SQL("do nothing")
            else:
                statement += sql.SQL("do update set ") + sql.SQL(", ").join(
                    sql.SQL("{} = excluded.{}").format(_ident(n), _ident(n)) for n in updates
                )
        statement += sql.SQL(" returning _t.*")
        args, status = [json.dumps(rows)], 201
    elif method == "PATCH":
        if not isinstance(body, dict):
            raise ApiError(400, "PGRST102", "Body must be a JSON object")
        names = _known(table, columns, list(body))
        assignments = sql.SQL(", ").join(sql.SQL("{} = _r.{}").format(_ident(n), _ident(n)) for n in names)
        statement = sql.SQL(
            "update {} as _t set {} from json_populate_record(null::{}, %s::json) as _r where {} returning _t.*"
        ).format(relation, assignments, relation, where)
        args, status = [json.dumps(body), *where_params], 200
    elif method == "DELETE":
        statement = sql.SQL("delete from {} as _t where {} returning _t.*").format(relation, where)
        args, status = where_params, 200
    else:
        raise ApiError(405, "PGRST117", f"Unsupported HTTP method: {method}")
    wrapped = sql.SQL("with _s as ({}) select coalesce(json_agg(_s), '[]'::json)::text, count(*) from _s").format(
        statement
    )
    conn = db.connection()
    try:
        with conn.transaction():
            conn.execute("set local role service_role")
            text, _ = conn.execute(wrapped, args).fetchone()
    except psycopg.OperationalError as exc:
        raise ApiError(503, "PGRST000", "Database connection lost", str(exc)[:300]) from exc
    except psycopg.Error as exc:
        state = exc.sqlstate or "XX000"
        http = _SQLSTATE_STATUS.get(state, 400 if state[:2] in ("22", "23", "42") else 500)
        raise ApiError(http, state, str(exc.diag.message_primary or exc), exc.diag.message_detail) from exc
    if not representation:
        return (204 if method != "POST" else 201), None
    return status, json.loads(text)


def _matching(row: tuple[Any, ...], arguments: dict[str, Any]) -> tuple[bool, list[str], list[str]] | None:
    """(returns a set, input argument names, their types) of a pg_proc row called with exactly `arguments`."""
    returns_set, names, modes, types = row
    modes = modes or ["i"] * len(names or [])
    inputs = [arg for arg, mode in zip(names or [], modes, strict=True) if mode in ("i", "b", "v")]
    return (bool(returns_set), inputs, list(types)) if set(inputs) == set(arguments) else None


def call_function(db: Database, name: str, body: Any) -> tuple[int, Any]:
    """`POST /rpc/NAME` with named arguments (docs.postgrest.org, "Functions as RPC"), as `service_role`.

    A set-returning function answers a JSON array of its rows, any other its value as JSON; an unknown
    function or argument set is PGRST202 (404), as PostgREST answers.
    """
    import psycopg
    from psycopg import sql

    arguments = body if isinstance(body, dict) else {}
    if body is not None and not isinstance(body, dict):
        raise ApiError(400, "PGRST102", "Body must be a JSON object of named arguments")
    conn = db.connection()
    found = conn.execute(
        "select p.proretset, p.proargnames, p.proargmodes::text[],"
        " array(select format_type(t, null) from unnest(p.proargtypes) as t)"
        " from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = %s and p.proname = %s",
        (SCHEMA, name),
    ).fetchall()
    conn.rollback()
    signature = next((match for row in found if (match := _matching(row, arguments)) is not None), None)
    if signature is None:
        listed = ", ".join(sorted(arguments))
        raise ApiError(404, "PGRST202", f"Could not find the function {SCHEMA}.{name}({listed}) in the schema cache")
    returns_set, inputs, types = signature
    passed = sql.SQL(", ").join(
        sql.SQL("{} => %s::{}").format(_ident(arg), sql.SQL(kind)) for arg, kind in zip(inputs, types, strict=True)
    )
    function = sql.SQL("{}.{}({})").format(_ident(SCHEMA), _ident(name), passed)
    statement = (
        sql.SQL("select coalesce(json_agg(_s), '[]'::json)::text from {} as _s").format(function)
        if returns_set
        else sql.SQL("select to_json({})::text").format(function)
    )
    values = [arguments[arg] if not isinstance(arguments[arg], dict | list) else json.dumps(arguments[arg])
              for arg in inputs]  # fmt: skip
    try:
        with conn.transaction():
            conn.execute("set local role service_role")
            (text,) = conn.execute(statement, values).fetchone()
    except psycopg.OperationalError as exc:
        raise ApiError(503, "PGRST000", "Database connection lost", str(exc)[:300]) from exc
    except psycopg.Error as exc:
        state = exc.sqlstate or "XX000"
        http = _SQLSTATE_STATUS.get(state, 400 if state[:2] in ("22", "23", "42") else 500)
        raise ApiError(http, state, str(exc.diag.message_primary or exc), exc.diag.message_detail) from exc
    return 200, json.loads(text)
