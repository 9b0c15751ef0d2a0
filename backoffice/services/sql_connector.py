"""The SQL connector: erase, rectify, block or read a client's rows in another database (policy 5.2-5.4).

The URL comes from the environment variable the system names (never from our database). Work is set-based
(one UPDATE or DELETE per table, whatever the row count) and runs in ONE transaction per system: a failure
leaves that system untouched. Running it again finds nothing left to change and succeeds (idempotent).
Children (tables found `via` a parent) are changed before their parents, so a parent's identities still find
them.
"""
import datetime as dt
import json
import os
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, Integer, String, Table, MetaData, cast, create_engine, delete, false, func
from sqlalchemy import inspect, literal, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from .. import labels
from . import datasets

MASK_TEXT = "erased-"
CONNECT_TIMEOUT_SECONDS = 5
_engines = {}
_reflected = {}


class ConnectorError(Exception):
    """A system cannot be reached or its dataset does not fit its schema; the message holds no personal data."""


def system_url(system):
    name = system.connection_env
    url = os.environ.get(name or "") if name else None
    if not url:
        raise ConnectorError(_l("The environment variable %(name)s (connection URL of %(system)s) is not set.",
                                name=name or "?", system=system.name))
    return url


def engine_for(system):
    """One pooled engine per URL and process (a forked worker builds its own)."""
    url = system_url(system)
    key = (os.getpid(), url)
    engine = _engines.get(key)
    if engine is None:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            # Connecting to a missing SQLite file would create it: a typo must fail, not make an empty database.
            if not parsed.database or not Path(parsed.database).is_file():
                raise ConnectorError(_l("%(system)s: the SQLite file does not exist.", system=system.name))
            connect_args = {}
        elif parsed.get_backend_name() == "postgresql":
            connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        else:
            connect_args = {}
        engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
        _engines[key] = engine
    return engine


def dataset_of(system):
    try:
        return datasets.parse(system.dataset or {})
    except datasets.DatasetError as exc:
        raise ConnectorError(exc.args[0] if exc.args else str(exc)) from None  # the lazy message (a note)


def _reflect(connection, dataset, cache_key=None):
    """The dataset's tables as reflected Table objects, checked for every column the dataset names.

    Reflection costs several catalogue queries per table; a worker process keeps the result per (URL, dataset),
    and drops it when a statement fails (the schema may have changed).
    """
    if cache_key is not None and cache_key in _reflected:
        return _reflected[cache_key]
    tables = _reflect_now(connection, dataset)
    if cache_key is not None:
        _reflected[cache_key] = tables
    return tables


def _cache_key(system):
    return (os.getpid(), system_url(system), json.dumps(system.dataset, sort_keys=True, default=str))


def _reflect_now(connection, dataset):
    metadata = MetaData()
    tables = {}
    for spec in dataset.tables:
        try:
            tables[spec.table] = Table(spec.table, metadata, autoload_with=connection)
        except NoSuchTableError:
            raise ConnectorError(_l("Table %(table)s does not exist.", table=spec.table)) from None
        missing = sorted(spec.referenced_columns() - set(tables[spec.table].c.keys()))
        if missing:
            raise ConnectorError(_l("Table %(table)s has no column(s): %(columns)s.", table=spec.table,
                                    columns=", ".join(missing)))
    return tables


def _condition(spec, dataset, tables, identifiers):
    table = tables[spec.table]
    if spec.via is None:
        parts = []
        for kind, column in spec.match.items():
            values = [value for value in identifiers.get(kind, ()) if value]
            if not values:
                continue
            if kind == "email":
                parts.append(func.lower(table.c[column]).in_([value.lower() for value in values]))
            else:
                parts.append(table.c[column].in_(values))
        return or_(*parts) if parts else false()
    parent = dataset.table(spec.via.parent)
    parent_rows = select(tables[parent.table].c[spec.via.parent_column]).where(
        _condition(parent, dataset, tables, identifiers))
    return table.c[spec.via.column].in_(parent_rows)


def _mask_value(table):
    key = list(table.primary_key.columns)
    # Unique per row, so a UNIQUE column (an e-mail) can be masked on many rows; the key is not personal data.
    return literal(MASK_TEXT) + cast(key[0], String) if key else literal(MASK_TEXT)


def _changing(system, identifiers, work):
    """Run `work(connection, spec, condition, table)` for each table, children first, in ONE transaction.

    Returns the per-table rows `work` gave (None: the table had nothing to do) and their totals. A failure rolls
    the whole system back; the error names the driver's exception class only (its message quotes parameters, which
    are personal data).
    """
    dataset = dataset_of(system)
    cache_key = _cache_key(system)
    try:
        with engine_for(system).begin() as connection:
            tables = _reflect(connection, dataset, cache_key)
            results = []
            for spec in reversed(dataset.tables):
                row = work(connection, spec, _condition(spec, dataset, tables, identifiers), tables[spec.table])
                if row is not None:
                    results.append(row)
    except SQLAlchemyError as exc:
        _reflected.pop(cache_key, None)
        raise ConnectorError(_l("%(system)s: database error (%(error)s); nothing was changed there.",
                                system=system.name, error=type(exc).__name__)) from None
    results.reverse()
    return {"tables": results, "deleted": sum(r["deleted"] for r in results),
            "changed": sum(r["changed"] for r in results)}


def _found(connection, table, condition):
    return connection.execute(select(func.count()).select_from(table).where(condition)).scalar()


def erase(system, identifiers):
    """Apply the dataset to the client's rows in one transaction; per-table counts and kept columns with reasons."""
    def work(connection, spec, condition, table):
        row = {"table": spec.table, "found": _found(connection, table, condition), "deleted": 0, "changed": 0,
               "nulled": spec.columns_with(datasets.NULL), "masked": spec.columns_with(datasets.MASK),
               "kept": spec.kept}
        if spec.deletes_rows:
            row["deleted"] = connection.execute(delete(table).where(condition)).rowcount
        else:
            values = {name: None for name in row["nulled"]}
            values.update({name: _mask_value(table) for name in row["masked"]})
            if values:
                row["changed"] = connection.execute(update(table).where(condition).values(values)).rowcount
        return row
    return _changing(system, identifiers, work)


def _typed(column, field, value):
    """The new value as the column stores it: a date of birth into a DATE column, text otherwise."""
    if field == "date_of_birth" and isinstance(column.type, Date) and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ConnectorError(_l("The new date of birth is not a date.")) from None
    return value


def rectify(system, identifiers, changes):
    """Set the columns the dataset maps to the changed fields, on the client's rows (policy 5.2).

    `changes` is {back-office field: new value}. Only rows whose value differs are written, so a second run
    changes nothing; `identifiers` must find the rows under their old values too (the e-mail being corrected).
    """
    def work(connection, spec, condition, table):
        values = {column: _typed(table.c[column], name, changes[name]) for name, column in spec.fields.items()
                  if name in changes}
        if not values:
            return None
        differs = or_(*(table.c[column].is_distinct_from(value) for column, value in values.items()))
        return {"table": spec.table, "found": _found(connection, table, condition), "deleted": 0, "kept": {},
                "fields": sorted(name for name in spec.fields if name in changes),
                "changed": connection.execute(update(table).where(condition, differs).values(values)).rowcount}
    return _changing(system, identifiers, work)


def set_blocked(system, identifiers, blocked):
    """Set (blocking) or clear (its lifting) the block flag of the client's rows (Law art. 1(3)); idempotent."""
    def work(connection, spec, condition, table):
        if not spec.block:
            return None
        flag = table.c[spec.block]
        return {"table": spec.table, "found": _found(connection, table, condition), "deleted": 0, "kept": {},
                "block": spec.block, "changed": connection.execute(
                    update(table).where(condition, flag.is_distinct_from(blocked)).values({spec.block: blocked})
                ).rowcount}
    return _changing(system, identifiers, work)


def read(system, identifiers):
    """The client's rows in this system, table by table, for the access package (policy 5.4)."""
    dataset = dataset_of(system)
    out = {}
    try:
        with engine_for(system).connect() as connection:
            tables = _reflect(connection, dataset)
            for spec in dataset.tables:
                table = tables[spec.table]
                columns = [table.c[name] for name in table.c.keys() if name in spec.referenced_columns()
                           or table.c[name].primary_key]
                rows = connection.execute(select(*columns).where(_condition(spec, dataset, tables, identifiers))
                                          .order_by(*table.primary_key.columns)).mappings().all()
                out[spec.table] = [dict(row) for row in rows]
    except SQLAlchemyError as exc:
        raise ConnectorError(_l("%(system)s: database error (%(error)s).", system=system.name,
                                error=type(exc).__name__)) from None
    return out


def check(system):
    """Problems that would stop a request here: unreachable, missing tables/columns, actions the schema refuses.

    Reads the schema only; nothing is changed. Returns a list of messages (empty when all is well).
    """
    try:
        dataset = dataset_of(system)
        engine = engine_for(system)
        with engine.connect() as connection:
            inspector = inspect(connection)
            present = set(inspector.get_table_names())
            problems = []
            for spec in dataset.tables:
                if spec.table not in present:
                    problems.append(str(_l("Table %(table)s does not exist.", table=spec.table)))
                    continue
                columns = {column["name"]: column for column in inspector.get_columns(spec.table)}
                missing = sorted(spec.referenced_columns() - set(columns))
                if missing:
                    problems.append(str(_l("Table %(table)s has no column(s): %(columns)s.", table=spec.table,
                                           columns=", ".join(missing))))
                    continue
                for name in spec.columns_with(datasets.NULL):
                    if not columns[name].get("nullable", True):
                        problems.append(str(_l("%(table)s.%(column)s is NOT NULL: use “mask” or “delete row”.",
                                               table=spec.table, column=name)))
                for name in spec.columns_with(datasets.MASK):
                    if not isinstance(columns[name]["type"], String):
                        problems.append(str(_l("%(table)s.%(column)s is not text: it cannot be masked.",
                                               table=spec.table, column=name)))
                if spec.block and not isinstance(columns[spec.block]["type"], (Boolean, Integer)):
                    problems.append(str(_l("%(table)s.%(column)s is not a yes/no column: it cannot be the block "
                                           "flag.", table=spec.table, column=spec.block)))
                for field, name in spec.fields.items():
                    wanted = (Date, String) if field == "date_of_birth" else (String,)
                    if not isinstance(columns[name]["type"], wanted):
                        problems.append(str(_l("%(table)s.%(column)s is not text: it cannot hold the new value of "
                                               "“%(field)s”.", table=spec.table, column=name,
                                               field=labels.label(field, "client_field"))))
            return problems
    except ConnectorError as exc:
        return [str(exc)]
    except SQLAlchemyError as exc:
        return [str(_l("%(system)s: cannot connect (%(error)s).", system=system.name, error=type(exc).__name__))]
