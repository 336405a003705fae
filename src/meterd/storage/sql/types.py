"""Column types that behave the same on SQLite and PostgreSQL.

Rule: never SUM money in SQLite SQL. SQLite has no decimal type; its SUM and
arithmetic go through binary floats and silently lose cents. ``DecimalText``
stores decimals as exact text there, so money is read back as ``Decimal`` and
added up in Python. PostgreSQL stores it as ``NUMERIC(38,12)``, where SQL
arithmetic is exact.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime.

    SQLite keeps no offset, so values are stored as naive UTC (a fixed-width
    text form that still sorts by time) and get UTC re-attached on the way out.
    Naive input is refused: guessing its zone is how timestamps drift by hours.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"UtcDateTime needs an aware datetime, got {value!r}")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


class JsonText(TypeDecorator[Any]):
    """A JSON document (object or array): text on SQLite, JSONB on PostgreSQL."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None or not isinstance(value, str | bytes):
            return value
        return json.loads(value)


class DecimalText(TypeDecorator[Decimal]):
    """An exact decimal: TEXT on SQLite, NUMERIC(38,12) on PostgreSQL."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(38, 12, asdecimal=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise ValueError(f"DecimalText needs a Decimal, got {value!r}")
        if not value.is_finite():
            raise ValueError(f"DecimalText cannot store {value}")
        if dialect.name == "postgresql":
            return value
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return value
        return Decimal(str(value))
