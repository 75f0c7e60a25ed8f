"""The canonical tables of the workspace and their validation.

Every table that enters the workspace (``mof ingest``, the simulator, the send module's
events) goes through :func:`validate`, which coerces each column to its canonical type and
raises :class:`~mof_experiments.errors.MofInputError` naming the source, the column and an
example bad row when something does not fit. The contracts are documented in
``docs/data-contracts.md``; column names are public API.

Conventions
-----------
- IDs are strings; timestamps are timezone-aware UTC (``datetime64[us, UTC]``). Naive
  timestamps are rejected unless the caller names the zone they were recorded in
  (``assume_tz``); values with an offset are converted to UTC.
- Row numbers in errors are 1-based data rows (for a CSV, line number minus one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mof_experiments.errors import MofInputError

STRING, TIMESTAMP, INT, FLOAT, BOOL = "string", "timestamp", "int", "float", "bool"

ENVIRONMENTS = ("sandbox", "production")
EMAIL_EVENTS = ("sent", "delivered", "open", "click", "bounce", "unsubscribe", "complaint")
PERSONAS = ("PM", "GC", "CSO", "CFO", "CEO", "DEV", "OTHER")
STAGES = ("signed_up", "sandbox", "production")

# an offset after a time of day (a bare date such as 2026-03-02 has none: its "-02" is the day)
_TZ_SUFFIX_RE = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?|UTC|GMT)$",
                           re.IGNORECASE)


def _checked_email(value: str):
    """email-validator's result for ``value`` (syntax only, no DNS), or None if invalid."""
    from email_validator import EmailNotValidError, validate_email

    if not isinstance(value, str):
        return None
    try:
        return validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return None


def is_valid_email(value: str) -> bool:
    """Whether ``value`` is a valid address, by the maintained ``email-validator`` package.

    Syntax only (no DNS look-up): RFC 5321/5322 dot-atom local part (no leading, trailing or
    doubled dot), a domain of valid labels with a dot and not a special-use name (``.test``,
    ``.local``, ``localhost``...); internationalized domains and local parts are valid.
    """
    return _checked_email(value) is not None


def sendable_email(value: str) -> str | None:
    """The address to put on the wire, or None if it cannot be sent.

    An internationalized domain is converted to its ASCII (punycode) form
    (``ana@bücher.de`` -> ``ana@xn--bcher-kva.de``); a non-ASCII *local part* needs the
    SMTPUTF8 extension, which the send back-ends do not use, so such an address is not
    sendable (None), like an invalid one.
    """
    r = _checked_email(value)
    return None if r is None else r.ascii_email


def email_key(value) -> str:
    """Comparison key of an address: its sendable (punycode) form, else the text, lower-cased.

    Two spellings of one address (``Ana@Bücher.de``, ``ana@xn--bcher-kva.de``) get one key, so
    a suppression recorded under either form matches both.
    """
    text = str(value).strip()
    if text.isascii():  # its sendable form is itself (the domain only changes case)
        return text.lower()
    return (sendable_email(text) or text).lower()


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    required: bool = True
    nullable: bool = False
    allowed: tuple | None = None
    email: bool = False
    min_value: float | None = None
    max_value: float | None = None


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    doc: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


TABLES: dict[str, TableSpec] = {
    "companies": TableSpec(
        "companies",
        (
            Column("company_id", STRING),
            Column("signup_at", TIMESTAMP),
            Column("name", STRING, required=False, nullable=True),
            Column("plan", STRING, required=False, nullable=True),
            Column("size", INT, required=False, nullable=True, min_value=0),
        ),
        key=("company_id",),
        doc="one row per customer company (account)",
    ),
    "contacts": TableSpec(
        "contacts",
        (
            Column("contact_id", STRING),
            Column("company_id", STRING),
            Column("email", STRING, email=True),
            Column("job_title", STRING, nullable=True),
            Column("unsubscribed_at", TIMESTAMP, required=False, nullable=True),
        ),
        key=("contact_id",),
        doc="people at customer companies; job_title is free text",
    ),
    "api_events": TableSpec(
        "api_events",
        (
            Column("company_id", STRING),
            Column("ts", TIMESTAMP),
            Column("environment", STRING, allowed=ENVIRONMENTS),
            Column("endpoint", STRING),
            Column("status_code", INT, min_value=100, max_value=599),
            Column("contact_id", STRING, required=False, nullable=True),
        ),
        doc="one row per API call",
    ),
    "email_events": TableSpec(
        "email_events",
        (
            Column("message_id", STRING),
            Column("campaign_id", STRING),
            Column("contact_id", STRING),
            Column("company_id", STRING),
            Column("zone", STRING),
            Column("topic", STRING),
            Column("variant", STRING, nullable=True),
            Column("event", STRING, allowed=EMAIL_EVENTS),
            Column("ts", TIMESTAMP),
            Column("event_id", STRING, required=False, nullable=True),
            Column("machine_open", BOOL, required=False, nullable=True),
        ),
        doc="one row per email event; event_id (the ESP's id) and machine_open are optional",
    ),
    "assignments": TableSpec(
        "assignments",
        (
            Column("experiment_id", STRING),
            Column("company_id", STRING),
            Column("arm", STRING),
            Column("assigned_at", TIMESTAMP),
            Column("stratum", STRING, required=False, nullable=True),
        ),
        key=("experiment_id", "company_id"),
        doc="experiment arm per company (unit of randomization: the company)",
    ),
    "contact_assignments": TableSpec(
        "contact_assignments",
        (Column("experiment_id", STRING), Column("contact_id", STRING), Column("company_id", STRING),
         Column("arm", STRING), Column("assigned_at", TIMESTAMP),
         Column("stratum", STRING, required=False, nullable=True),
         Column("parent_experiment_id", STRING), Column("parent_arm", STRING)),
        key=("experiment_id", "contact_id"),
        doc="experiment arm per contact, within a company arm (parent_experiment_id, parent_arm)",
    ),
    "experiment_arms": TableSpec(
        "experiment_arms",
        (
            Column("experiment_id", STRING),
            Column("arm", STRING),
            Column("weight", FLOAT, min_value=0),
            Column("is_control", BOOL),
        ),
        key=("experiment_id", "arm"),
        doc="the arms of each experiment; control arms (is_control) are never emailed",
    ),
}

#: Experiment id under which the persistent global holdout is recorded in ``assignments``
#: (arm ``holdout``): those companies are excluded from every campaign.
GLOBAL_HOLDOUT_EXPERIMENT = "global_holdout"


def _first_bad(mask: pd.Series | np.ndarray, values: pd.Series) -> tuple[int, object]:
    """Return (1-based data row, value) of the first True in mask."""
    idx = int(np.flatnonzero(np.asarray(mask))[0])
    return idx + 1, values.iloc[idx]


def _is_missing(s: pd.Series) -> pd.Series:
    m = s.isna()
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        m = m | (s.astype("str").str.strip() == "")
    return m


def parse_timestamps(values: pd.Series, *, column: str, source: str | None,
                     assume_tz: str | None = None) -> pd.Series:
    """Parse a column to ``datetime64[us, UTC]``.

    Values with an offset (``2026-03-01T10:00:00+02:00``, ``...Z``) are converted to UTC.
    Naive values are rejected unless ``assume_tz`` names the zone they were recorded in.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        if assume_tz is None:
            return _naive_error(values.astype(str), pd.Series(True, index=values.index) & values.notna(),
                                column, source)
        return values.dt.tz_localize(assume_tz).dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    text = values.astype("str").str.strip()
    missing = values.isna() | (text == "")
    aware = text.str.contains(_TZ_SUFFIX_RE, regex=True) & ~missing
    naive = ~aware & ~missing
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    if naive.any():
        if assume_tz is None:
            # a value that is not a timestamp at all is named as such, not as lacking a zone
            parsed = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
            if parsed.isna().any():
                row, val = _first_bad(naive & text.index.isin(parsed[parsed.isna()].index), text)
                raise MofInputError("not a timestamp", source=source, column=column, row=row, value=val)
            return _naive_error(text, naive, column, source)
        try:
            parsed = pd.to_datetime(text[naive], format="ISO8601")
        except (ValueError, TypeError):
            parsed = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
            bad = parsed.isna()
            row, val = _first_bad(naive & text.index.isin(parsed[bad].index), text)
            raise MofInputError("not a timestamp", source=source, column=column, row=row, value=val) from None
        try:
            out[naive] = parsed.dt.tz_localize(assume_tz, nonexistent="raise", ambiguous="raise") \
                .dt.tz_convert("UTC").astype("datetime64[us, UTC]")
        except Exception as exc:  # nonexistent/ambiguous local times, unknown zone
            raise MofInputError(f"cannot localize to {assume_tz!r}: {exc}", source=source,
                                column=column) from None
    if aware.any():
        sub = text[aware].str.replace(r"\s*(UTC|GMT)$", "+00:00", regex=True, case=False)
        parsed = pd.to_datetime(sub, format="ISO8601", utc=True, errors="coerce")
        if parsed.isna().any():
            row, val = _first_bad(aware & text.index.isin(parsed[parsed.isna()].index), text)
            raise MofInputError("not a timestamp", source=source, column=column, row=row, value=val)
        out[aware] = parsed.astype("datetime64[us, UTC]")
    return out


#: How far past the time of the run a timestamp may be before it counts as "in the future"
#: (an allowance for clocks that are a little ahead).
FUTURE_TOLERANCE = pd.Timedelta(minutes=5)


def future_timestamps(df: pd.DataFrame, table: str, *, now, source: str | None = None, strict: bool = False,
                      tolerance: pd.Timedelta = FUTURE_TOLERANCE) -> list[str]:
    """Find timestamps after the time of the run: one warning per column, or an error.

    Rule: a value of a timestamp column of ``table`` (validated ``df``) later than
    ``now + tolerance`` is in the future: nothing recorded can have happened yet, so it is a
    wrong clock, a wrong zone or a placeholder (``2099-01-01``). Without ``strict`` each such
    column gives one warning with the count and the first row; with ``strict`` the first one
    raises :class:`MofInputError` (file, column, row, value) and nothing is written.

    Parameters
    ----------
    now : the time of the run (timezone-aware), resolved once by the caller.
    """
    limit = pd.Timestamp(now).tz_convert("UTC") + tolerance
    out = []
    for col in TABLES[table].columns:
        if col.dtype != TIMESTAMP or col.name not in df.columns:
            continue
        late = (df[col.name] > limit).fillna(False).to_numpy(dtype=bool)
        n = int(late.sum())
        if not n:
            continue
        row, val = _first_bad(late, df[col.name])
        what = f"{n:,} timestamp(s) in the future (after {limit:%Y-%m-%d %H:%M} UTC)"
        if strict:
            raise MofInputError(f"{what}; --strict refuses them, nothing was written", source=source,
                                column=col.name, row=row, value=str(val))
        head = f"{source}: " if source else ""
        out.append(f"{head}column {col.name!r}: {what}, e.g. row {row}: {str(val)!r}; loaded anyway "
                   "(--strict refuses them)")
    return out


def _naive_error(text: pd.Series, mask: pd.Series, column: str, source: str | None):
    row, val = _first_bad(mask, text)
    raise MofInputError("timestamp has no timezone; give --assume-tz ZONE (e.g. UTC) to convert naive "
                        "timestamps", source=source, column=column, row=row, value=val)


def _coerce(s: pd.Series, col: Column, source: str | None, assume_tz: str | None) -> pd.Series:
    missing = _is_missing(s)
    if missing.any() and not col.nullable:
        row, val = _first_bad(missing, s)
        raise MofInputError("missing value in a required column", source=source, column=col.name,
                            row=row, value=val)
    if col.dtype == STRING:
        out = s.astype("str").str.strip().where(~missing, None).astype("str")
        if col.allowed is not None:
            bad = ~out.isin(col.allowed) & ~missing
            if bad.any():
                row, val = _first_bad(bad, s)
                raise MofInputError(f"unknown value (allowed: {', '.join(col.allowed)})", source=source,
                                    column=col.name, row=row, value=val)
        if col.email:
            # each distinct address is checked once (email-validator costs ~50 us an address)
            values = out[~missing]
            ok = {v: is_valid_email(v) for v in values.unique()}
            bad = ~missing & ~out.map(ok).fillna(False).astype(bool)
            if bad.any():
                row, val = _first_bad(bad, s)
                raise MofInputError("malformed email address", source=source, column=col.name, row=row, value=val)
        return out
    if col.dtype == TIMESTAMP:
        return parse_timestamps(s, column=col.name, source=source, assume_tz=assume_tz)
    if col.dtype in (INT, FLOAT):
        if pd.api.types.is_bool_dtype(s.dtype):
            row, val = 1, s.iloc[0]
            raise MofInputError(f"expected {col.dtype}, found booleans", source=source, column=col.name,
                                row=row, value=val)
        num = pd.to_numeric(s.where(~missing), errors="coerce")
        bad = num.isna() & ~missing
        if bad.any():
            row, val = _first_bad(bad, s)
            raise MofInputError(f"expected {'an integer' if col.dtype == INT else 'a number'}",
                                source=source, column=col.name, row=row, value=val)
        if col.dtype == INT:
            frac = (num % 1 != 0) & ~missing
            if frac.any():
                row, val = _first_bad(frac, s)
                raise MofInputError("expected an integer", source=source, column=col.name, row=row, value=val)
            num = num.astype("Int64")
        else:
            num = num.astype("Float64")
        for bound, cmp, word in ((col.min_value, num < (col.min_value or 0), "below"),
                                 (col.max_value, num > (col.max_value or 0), "above")):
            if bound is not None:
                b = cmp.fillna(False).astype(bool)
                if b.any():
                    row, val = _first_bad(b, s)
                    raise MofInputError(f"value {word} {bound}", source=source, column=col.name,
                                        row=row, value=val)
        return num
    if col.dtype == BOOL:
        if pd.api.types.is_bool_dtype(s.dtype):
            return s.astype("boolean")
        mapping = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False,
                   "t": True, "f": False}
        text = s.astype("str").str.strip().str.lower()
        out = text.map(mapping)
        bad = out.isna() & ~missing
        if bad.any():
            row, val = _first_bad(bad, s)
            raise MofInputError("expected true/false", source=source, column=col.name, row=row, value=val)
        return out.where(~missing).astype("boolean")
    raise AssertionError(col.dtype)


def validate(df: pd.DataFrame, table: str, *, source: str | None = None, assume_tz: str | None = None,
             check_key: bool = True) -> pd.DataFrame:
    """Check ``df`` against the contract of ``table`` and return a new, canonical frame.

    Required columns must be present; optional columns absent from the input are added as
    nulls; columns outside the contract are dropped. Values are coerced to the canonical
    types; keys must be unique. The caller's frame is never modified.

    Raises
    ------
    MofInputError
        naming ``source``, the column and the first bad row.
    """
    if table not in TABLES:
        raise MofInputError(f"unknown table {table!r} (known: {', '.join(TABLES)})", source=source)
    spec = TABLES[table]
    if len(df.columns) == 0 or len(df) == 0:
        raise MofInputError(f"no rows for table {table}", source=source)
    cols = {str(c).strip(): c for c in df.columns}
    missing = [c.name for c in spec.columns if c.required and c.name not in cols]
    if missing:
        raise MofInputError(f"missing required column(s) {', '.join(missing)} for table {table} "
                            f"(found: {', '.join(map(str, cols))})", source=source, column=missing[0])
    out = {}
    for col in spec.columns:
        if col.name in cols:
            out[col.name] = _coerce(df[cols[col.name]].reset_index(drop=True), col, source, assume_tz)
        else:
            out[col.name] = _empty_like(col, len(df))
    result = pd.DataFrame(out)
    if check_key and spec.key:
        dup = result.duplicated(list(spec.key), keep="first")
        if dup.any():
            row, _ = _first_bad(dup, result[spec.key[0]])
            val = tuple(result.loc[row - 1, list(spec.key)]) if len(spec.key) > 1 else result.loc[row - 1, spec.key[0]]
            raise MofInputError(f"duplicate key ({', '.join(spec.key)})", source=source, column=spec.key[0],
                                row=row, value=val)
    return result


def _empty_like(col: Column, n: int) -> pd.Series:
    if col.dtype == TIMESTAMP:
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[us, UTC]")
    if col.dtype == INT:
        return pd.Series(pd.NA, index=range(n), dtype="Int64")
    if col.dtype == FLOAT:
        return pd.Series(pd.NA, index=range(n), dtype="Float64")
    if col.dtype == BOOL:
        return pd.Series(pd.NA, index=range(n), dtype="boolean")
    return pd.Series(None, index=range(n), dtype="str")


def duckdb_type(col: Column) -> str:
    return {STRING: "VARCHAR", TIMESTAMP: "TIMESTAMPTZ", INT: "BIGINT", FLOAT: "DOUBLE",
            BOOL: "BOOLEAN"}[col.dtype]


def create_table_sql(table: str, name: str | None = None) -> str:
    spec = TABLES[table]
    cols = ", ".join(f'"{c.name}" {duckdb_type(c)}' for c in spec.columns)
    return f'CREATE TABLE IF NOT EXISTS "{name or table}" ({cols})'
