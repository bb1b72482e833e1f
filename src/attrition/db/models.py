"""SQLAlchemy 2.0 tables of the app database.

Portable by construction: every String has a length, JSON goes through
``sa.JSON`` and no dialect-specific SQL is used, so the same models run on
SQLite, PostgreSQL, MariaDB/MySQL and SQL Server.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from attrition.audit import AuditOutcome
from attrition.schema import COLUMNS, RECORD_COLUMNS, SNAPSHOT_DATE, ColumnSpec


def utcnow() -> dt.datetime:
    """Timezone-naive UTC now: stored the same way on every backend."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


def _contract_column(spec: ColumnSpec) -> sa.Column[Any]:
    if spec.kind in ("categorical", "target"):
        return sa.Column(spec.name.value, sa.String(spec.max_length), nullable=spec.kind == "target")
    if spec.kind == "constant" and isinstance(spec.constant, str):
        return sa.Column(spec.name.value, sa.String(spec.max_length), nullable=True)
    if spec.kind == "id":
        return sa.Column(spec.name.value, sa.BigInteger, nullable=False)
    return sa.Column(spec.name.value, sa.Integer, nullable=spec.kind == "constant")


#: One row per employee per HRIS snapshot; the columns are the contract's.
employees = sa.Table(
    "employees",
    Base.metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column(SNAPSHOT_DATE, sa.Date, nullable=False),
    *[_contract_column(spec) for spec in COLUMNS],
    sa.Column("source", sa.String(255), nullable=True),
    sa.Column("ingested_at", sa.DateTime, nullable=False, default=utcnow),
    sa.UniqueConstraint("EmployeeNumber", SNAPSHOT_DATE, name="uq_employees_number_snapshot"),
    sa.Index("ix_employees_snapshot", SNAPSHOT_DATE),
)


#: The latest score of each employee in each snapshot: a copy of the newest ``predictions`` row
#: with that (snapshot_date, employee_number), written in the same transaction as the predictions
#: (``repositories.insert_predictions``), so the workforce views join it instead of ranking the log.
latest_scores = sa.Table(
    "latest_scores",
    Base.metadata,
    sa.Column(SNAPSHOT_DATE, sa.Date, primary_key=True),
    sa.Column("employee_number", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("prediction_id", sa.String(36), nullable=False),
    sa.Column("probability", sa.Double, nullable=False),
    sa.Column("risk_band", sa.String(16), nullable=False),
    sa.Column("label", sa.Boolean, nullable=False),
    sa.Column("model_version", sa.String(32), nullable=False),
    sa.Column("scored_at", sa.DateTime, nullable=False),
    sa.Column("top_factors", sa.JSON, nullable=True),
)


#: One counter per data set whose views the API caches (``db/data_versions.py``), bumped in the
#: transaction of every write that changes the data set.
data_versions = sa.Table(
    "data_versions",
    Base.metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
)


def pack_inputs(record: Mapping[str, Any] | str | None) -> str | None:
    """A record's inputs as stored: a JSON array in ``RECORD_COLUMNS`` order (the keys once, in code).

    A record with other keys than exactly the contract's (older or partial rows) is kept as a
    JSON object, so every stored record reads back as it was given. Text is taken as packed.
    """
    if record is None or isinstance(record, str):
        return record
    if len(record) == len(RECORD_COLUMNS) and all(c in record for c in RECORD_COLUMNS):
        return json.dumps([record[c] for c in RECORD_COLUMNS], default=_json_plain, separators=(",", ":"))
    return json.dumps(dict(record), default=_json_plain, separators=(",", ":"))


def unpack_inputs(text: str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The record :func:`pack_inputs` stored (None: the inputs are the ``employees`` row)."""
    if text is None or isinstance(text, Mapping):  # a JSON column a driver parsed (before 0007)
        return None if text is None else dict(text)
    value = json.loads(text)
    if isinstance(value, list):
        if len(value) != len(RECORD_COLUMNS):
            raise ValueError(
                f"stored inputs: expected {len(RECORD_COLUMNS)} values (the contract's record), got {len(value)}"
            )
        return dict(zip(RECORD_COLUMNS, value, strict=True))
    return cast(dict[str, Any], value)


def _json_plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot store a {type(value).__name__} as an input value")


class _UncastText(sa.types.UserDefinedType[str]):
    """TEXT whose parameters carry no ``::VARCHAR`` cast (psycopg sends text untyped)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "TEXT"


class PackedInputs(sa.TypeDecorator[dict[str, Any]]):
    """``predictions.inputs``: dicts in and out, stored compactly (:func:`pack_inputs`)."""

    impl = sa.UnicodeText  # NVARCHAR(max) on SQL Server, TEXT elsewhere
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":  # no ``::VARCHAR`` cast: the column is JSON before 0007
            return _UncastText()
        return dialect.type_descriptor(sa.UnicodeText())

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        return pack_inputs(value)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dict[str, Any] | None:
        return unpack_inputs(value)


class Prediction(Base):
    """One scored record, from the API or a batch run.

    ``inputs`` holds the record scored, packed (:func:`pack_inputs`), for API and CSV
    predictions; for a snapshot score it is NULL: the record is the ``employees`` row of
    (``employee_number``, ``snapshot_date``), read back through a join (not a second copy).
    """

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    prediction_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, index=True)
    employee_number: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    snapshot_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    model_name: Mapped[str] = mapped_column(sa.String(128))
    model_version: Mapped[str] = mapped_column(sa.String(32))
    probability: Mapped[float] = mapped_column(sa.Double)
    threshold: Mapped[float] = mapped_column(sa.Double)
    label: Mapped[bool] = mapped_column(sa.Boolean)
    risk_band: Mapped[str] = mapped_column(sa.String(16), index=True)
    inputs: Mapped[dict[str, Any] | None] = mapped_column(PackedInputs)
    top_factors: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    source: Mapped[str] = mapped_column(sa.String(16), index=True)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    #: The API key name or user name that asked (None for batch runs and rows before 0005).
    caller: Mapped[str | None] = mapped_column(sa.String(128))


class Outcome(Base):
    """What actually happened to an employee: left or stayed, and when."""

    __tablename__ = "outcomes"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    employee_number: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    prediction_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    left: Mapped[bool] = mapped_column(sa.Boolean)
    outcome_date: Mapped[dt.date] = mapped_column(sa.Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    source: Mapped[str] = mapped_column(sa.String(32), default="feedback")


class AuditEvent(Base):
    """Who did what, when, why and how it ended: every write and admin action but predictions."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(sa.String(128))
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    subject: Mapped[str] = mapped_column(sa.String(255))
    #: An :class:`AuditOutcome` (rows before 0006 were read back from their action and detail).
    outcome: Mapped[str] = mapped_column(sa.String(16), server_default=AuditOutcome.OK.value, index=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)


class ApiKey(Base):
    """An API key, stored as a hash; the key itself is shown once at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(128), unique=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)


class User(Base):
    """A person who signs in (``POST /v1/auth/token``); the password is stored as an argon2 hash.

    ``token_version`` goes up when the user is disabled or the password is reset, so the
    tokens issued before stop working. The failure counters drive the sign-in lockout.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    token_version: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    password_changed_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    failed_sign_ins: Mapped[int] = mapped_column(sa.Integer, default=0)
    first_failed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    locked_until: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    last_sign_in_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)


class DriftRun(Base):
    """One drift check: windows, sizes, verdict and per-feature results."""

    __tablename__ = "drift_runs"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    started_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    status: Mapped[str] = mapped_column(sa.String(32))
    severity: Mapped[str | None] = mapped_column(sa.String(16))
    reference_description: Mapped[str] = mapped_column(sa.String(512))
    current_description: Mapped[str] = mapped_column(sa.String(512))
    reference_rows: Mapped[int] = mapped_column(sa.Integer)
    current_rows: Mapped[int] = mapped_column(sa.Integer)
    model_version: Mapped[str | None] = mapped_column(sa.String(32))
    results: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    report_path: Mapped[str | None] = mapped_column(sa.String(1024))
    retrain: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    error: Mapped[str | None] = mapped_column(sa.String(2000))
    #: ``host:pid`` of the process running the check (None before 0008).
    runner: Mapped[str | None] = mapped_column(sa.String(255))
