"""Declarative datasets: which tables of a system hold a client's data, how rows are found, what each column gets.

A dataset is JSON (docs/jobs.md, "Datasets"):

    {"identifiers": ["email", "phone"],                      # what a webhook system is sent (never more)
     "fields": ["email", "full_name"],                       # webhook: the back-office fields it holds
     "tables": [
       {"table": "customers", "match": {"email": "email_addr", "phone": "mobile"},
        "columns": {"email_addr": "mask", "full_name": "null", "loyalty_no": "keep: Tax Code art. 48"},
        "fields": {"email": "email_addr", "full_name": "full_name"},      # rectification (policy 5.2)
        "block": "is_blocked"},                                            # blocking (Law art. 1(3))
       {"table": "trips", "via": {"column": "customer_id", "parent": "customers", "parent_column": "id"},
        "columns": {"passenger": "delete row"}}]}

`match` finds rows by the client's identities (email, phone, iin, pnr); `via` finds them by a foreign key from
rows found in a table listed earlier. Column actions on erasure: `delete row` (the whole row goes), `null`,
`mask` (a fixed text), `keep: <legal reference>` (left as it is, and the reason appears on the certificate).
A table's `fields` maps back-office fields (models/clients.RECTIFIABLE_FIELDS) to its columns, which a
rectification sets to the new values; `block` names a boolean column set on blocking and cleared when the block
is lifted. A system's fields are those its tables map plus the top-level `fields` list (a webhook's).
Parsing never touches a database; `services.sql_connector` checks the dataset against the real schema.
"""
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from ..models.clients import RECTIFIABLE_FIELDS

IDENTITY_KINDS = ("email", "phone", "iin", "pnr")
DELETE_ROW = "delete row"
NULL = "null"
MASK = "mask"
KEEP = "keep"
MAX_TABLES = 50


class DatasetError(ValueError):
    """The dataset is not well formed; the message (translated) says where."""


@dataclass(frozen=True)
class Via:
    column: str
    parent: str
    parent_column: str


@dataclass(frozen=True)
class TableSpec:
    table: str
    columns: dict
    match: dict = field(default_factory=dict)
    via: Via | None = None
    fields: dict = field(default_factory=dict)  # {back-office field: column}, set by a rectification
    block: str | None = None  # boolean column: true while the client is blocked

    @property
    def deletes_rows(self):
        return DELETE_ROW in self.columns.values()

    def columns_with(self, action):
        return [name for name, value in self.columns.items() if value == action]

    @property
    def kept(self):
        """{column: legal reference} for the columns erasure leaves as they are."""
        return {name: value.split(":", 1)[1].strip() for name, value in self.columns.items()
                if value.startswith(KEEP + ":")}

    def referenced_columns(self):
        names = set(self.columns) | set(self.match.values()) | set(self.fields.values())
        if self.via:
            names.add(self.via.column)
        if self.block:
            names.add(self.block)
        return names


@dataclass(frozen=True)
class Dataset:
    tables: tuple
    identifiers: tuple
    listed_fields: tuple = ()

    def table(self, name):
        return next(spec for spec in self.tables if spec.table == name)

    @property
    def fields(self):
        """The back-office fields this system holds: a rectification of any other is not sent to it."""
        held = set(self.listed_fields)
        for spec in self.tables:
            held.update(spec.fields)
        return frozenset(held)

    @property
    def blocks(self):
        """Does any table carry a block flag?"""
        return any(spec.block for spec in self.tables)


def _name(value, where):
    if not isinstance(value, str) or not value.strip() or len(value) > 128:
        raise DatasetError(_l("%(where)s: a table or column name is required.", where=where))
    return value.strip()


def _action(value, where):
    if not isinstance(value, str):
        raise DatasetError(_l("%(where)s: the action must be text.", where=where))
    action = value.strip()
    if action in (DELETE_ROW, NULL, MASK):
        return action
    if action.startswith(KEEP + ":") and action.split(":", 1)[1].strip():
        return action
    raise DatasetError(_l("%(where)s: unknown action %(action)s; use “delete row”, “null”, “mask” or "
                          "“keep: <legal reference>”.", where=where, action=action[:60]))


def parse(raw):
    """A Dataset from its JSON form; DatasetError (translated, says which table/column) when malformed."""
    if not isinstance(raw, dict):
        raise DatasetError(_l("The dataset must be a JSON object with a “tables” list."))
    identifiers = raw.get("identifiers", list(IDENTITY_KINDS))
    if not isinstance(identifiers, list) or any(kind not in IDENTITY_KINDS for kind in identifiers):
        raise DatasetError(_l("“identifiers” must list some of: %(kinds)s.", kinds=", ".join(IDENTITY_KINDS)))
    listed_fields = raw.get("fields", [])
    if not isinstance(listed_fields, list) or any(name not in RECTIFIABLE_FIELDS for name in listed_fields):
        raise DatasetError(_l("“fields” must list some of: %(fields)s.", fields=", ".join(RECTIFIABLE_FIELDS)))
    tables = raw.get("tables", [])
    if not isinstance(tables, list) or len(tables) > MAX_TABLES:
        raise DatasetError(_l("“tables” must be a list (at most %(n)s).", n=MAX_TABLES))
    specs, seen = [], set()
    for index, item in enumerate(tables, start=1):
        where = f"tables[{index}]"
        if not isinstance(item, dict):
            raise DatasetError(_l("%(where)s must be an object.", where=where))
        name = _name(item.get("table"), where)
        where = f"{name}"
        if name in seen:
            raise DatasetError(_l("%(where)s is listed twice.", where=where))
        columns = item.get("columns")
        if not isinstance(columns, dict) or not columns:
            raise DatasetError(_l("%(where)s: “columns” must map each personal-data column to its action.",
                                  where=where))
        columns = {_name(column, where): _action(action, f"{where}.{column}") for column, action in columns.items()}
        match, via = item.get("match"), item.get("via")
        if bool(match) == bool(via):
            raise DatasetError(_l("%(where)s: give either “match” (by the client's identities) or “via” "
                                  "(a foreign key from a table listed earlier).", where=where))
        parsed_via = None
        if match:
            if not isinstance(match, dict) or any(kind not in IDENTITY_KINDS for kind in match):
                raise DatasetError(_l("%(where)s: “match” keys must be some of: %(kinds)s.", where=where,
                                      kinds=", ".join(IDENTITY_KINDS)))
            match = {kind: _name(column, where) for kind, column in match.items()}
        else:
            if not isinstance(via, dict):
                raise DatasetError(_l("%(where)s: “via” must be an object.", where=where))
            parsed_via = Via(_name(via.get("column"), where), _name(via.get("parent"), where),
                             _name(via.get("parent_column"), where))
            if parsed_via.parent not in seen:
                raise DatasetError(_l("%(where)s: “via” must name a table listed earlier.", where=where))
            match = {}
        seen.add(name)
        specs.append(TableSpec(table=name, columns=columns, match=match, via=parsed_via,
                               fields=_fields(item.get("fields"), where), block=_block(item.get("block"), where)))
    return Dataset(tables=tuple(specs), identifiers=tuple(identifiers), listed_fields=tuple(listed_fields))


def _fields(raw, where):
    """A table's {back-office field: column} for rectification (policy 5.2); absent means none."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or any(name not in RECTIFIABLE_FIELDS for name in raw):
        raise DatasetError(_l("%(where)s: “fields” must map some of %(fields)s to this table's columns.",
                              where=where, fields=", ".join(RECTIFIABLE_FIELDS)))
    return {name: _name(column, where) for name, column in raw.items()}


def _block(raw, where):
    """A table's block flag column (Law art. 1(3)); absent means the table has none."""
    return None if raw is None else _name(raw, where)
