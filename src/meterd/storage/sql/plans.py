"""Plan queries of the state store."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping

from meterd.core.errors import IssueCollector
from meterd.domain.catalog.plans import (
    Phase,
    Plan,
    PlanListQuery,
    parse_rate_card,
    rate_card_to_wire,
)
from meterd.storage.sql.base import ConflictMessage, SqlBase
from meterd.storage.sql.tables_catalog import plans
from meterd.storage.sql.tables_entitlements import features
from meterd.storage.sql.versioned import by_id, listing, versions_of


def _plain(value: Any) -> Any:
    """JSON-ready: decimals as their exact text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def phases_to_json(phases: Sequence[Phase]) -> list[dict[str, Any]]:
    return [
        _plain(
            {
                "key": p.key,
                "name": p.name,
                "description": p.description,
                "metadata": dict(p.metadata),
                "duration": p.duration,
                "rateCards": [rate_card_to_wire(c) for c in p.rate_cards],
            }
        )
        for p in phases
    ]


def phases_from_json(owner: str, raw: list[dict[str, Any]]) -> tuple[Phase, ...]:
    issues = IssueCollector()
    out = []
    for i, p in enumerate(raw):
        # Features may have been archived since: a stored card stays readable.
        cards = [
            parse_rate_card(c, f"phases[{i}].rateCards[{j}]", issues, lambda _k: True)
            for j, c in enumerate(p.get("rateCards") or [])
        ]
        out.append(
            Phase(
                key=p["key"],
                name=p["name"],
                description=p.get("description"),
                metadata=dict(p.get("metadata") or {}),
                duration=p.get("duration"),
                rate_cards=tuple(c for c in cards if c is not None),
            )
        )
    if issues.issues:
        # Rate cards are checked before they are stored: the row was edited by
        # hand or written by an incompatible version.
        raise ValueError(f"stored rate cards of {owner} are invalid: {issues.issues[0]}")
    return tuple(out)


def to_row_plan(p: Plan) -> dict[str, Any]:
    return {
        "id": p.id,
        "namespace": p.namespace,
        "key": p.key,
        "version": p.version,
        "name": p.name,
        "description": p.description,
        "metadata": dict(p.metadata),
        "currency": p.currency,
        "billing_cadence": p.billing_cadence,
        "billables_must_align": p.billables_must_align,
        "pro_rating_enabled": p.pro_rating_enabled,
        "settlement_mode": p.settlement_mode,
        "phases": phases_to_json(p.phases),
        "effective_from": p.effective_from,
        "effective_to": p.effective_to,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "deleted_at": p.deleted_at,
    }


def from_row_plan(row: RowMapping) -> Plan:
    return Plan(
        id=row["id"],
        namespace=row["namespace"],
        key=row["key"],
        version=row["version"],
        name=row["name"],
        description=row["description"],
        metadata=dict(row["metadata"] or {}),
        currency=row["currency"],
        billing_cadence=row["billing_cadence"],
        billables_must_align=bool(row["billables_must_align"]),
        pro_rating_enabled=bool(row["pro_rating_enabled"]),
        settlement_mode=row["settlement_mode"],
        phases=phases_from_json(f"plan {row['id']}", row["phases"] or []),
        effective_from=row["effective_from"],
        effective_to=row["effective_to"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
    )


def _conflict(p: Plan) -> ConflictMessage:
    def message(violated: str) -> str:
        if "draft" in violated:
            return f"plan {p.key} already has a draft version"
        if "version" in violated:
            return f"plan {p.key} already has version {p.version}"
        return f"plan with id {p.id} already exists"

    return message


class PlanQueries(SqlBase):
    def insert_plan(self, plan: Plan) -> None:
        with self._write(_conflict(plan)) as conn:
            conn.execute(insert(plans).values(to_row_plan(plan)))

    def get_plan(self, namespace: str, plan_id: str) -> Plan | None:
        with self._read() as conn:
            row = conn.execute(by_id(plans, namespace, plan_id)).mappings().first()
            return from_row_plan(row) if row is not None else None

    def plan_versions(self, namespace: str, key: str) -> list[Plan]:
        with self._read() as conn:
            rows = conn.execute(versions_of(plans, namespace, key)).mappings()
            return [from_row_plan(r) for r in rows]

    def list_plans(self, query: PlanListQuery) -> list[Plan]:
        with self._read() as conn:
            return [from_row_plan(r) for r in conn.execute(listing(plans, query)).mappings()]

    def save_plans(self, items: Sequence[Plan]) -> None:
        if not items:
            return
        with self._write(_conflict(items[-1])) as conn:
            for p in items:
                row = to_row_plan(p)
                del row["id"]
                conn.execute(update(plans).where(plans.c.id == p.id).values(row))

    def feature_exists(self, namespace: str, key: str) -> bool:
        with self._read() as conn:
            found = conn.scalar(
                select(features.c.id).where(
                    features.c.namespace == namespace,
                    features.c.key == key,
                    features.c.archived_at.is_(None),
                )
            )
            return found is not None
