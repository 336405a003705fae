"""Add-on and plan add-on queries of the state store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping

from meterd.domain.catalog.addons import Addon, AddonListQuery, PlanAddon
from meterd.domain.catalog.plans import Phase
from meterd.storage.sql.base import ConflictMessage, SqlBase
from meterd.storage.sql.plans import phases_from_json, phases_to_json
from meterd.storage.sql.tables_catalog import addons, plan_addons
from meterd.storage.sql.versioned import by_id, listing, versions_of


def _cards_to_json(a: Addon) -> list[Any]:
    # The cards go through the plans' phase encoding: one code path, one form.
    return list(phases_to_json([Phase(key="x", name="x", rate_cards=a.rate_cards)])[0]["rateCards"])


def to_row_addon(a: Addon) -> dict[str, Any]:
    return {
        "id": a.id,
        "namespace": a.namespace,
        "key": a.key,
        "version": a.version,
        "name": a.name,
        "description": a.description,
        "metadata": dict(a.metadata),
        "currency": a.currency,
        "instance_type": a.instance_type,
        "rate_cards": _cards_to_json(a),
        "effective_from": a.effective_from,
        "effective_to": a.effective_to,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
        "deleted_at": a.deleted_at,
    }


def from_row_addon(row: RowMapping) -> Addon:
    wrapped = [{"key": "x", "name": "x", "rateCards": row["rate_cards"] or []}]
    return Addon(
        id=row["id"],
        namespace=row["namespace"],
        key=row["key"],
        version=row["version"],
        name=row["name"],
        description=row["description"],
        metadata=dict(row["metadata"] or {}),
        currency=row["currency"],
        instance_type=row["instance_type"],
        rate_cards=phases_from_json(f"add-on {row['id']}", wrapped)[0].rate_cards,
        effective_from=row["effective_from"],
        effective_to=row["effective_to"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
    )


def to_row_plan_addon(p: PlanAddon) -> dict[str, Any]:
    return {
        "id": p.id,
        "namespace": p.namespace,
        "plan_id": p.plan_id,
        "addon_id": p.addon_id,
        "from_plan_phase": p.from_plan_phase,
        "max_quantity": p.max_quantity,
        "metadata": dict(p.metadata),
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "deleted_at": p.deleted_at,
    }


def from_row_plan_addon(row: RowMapping) -> PlanAddon:
    return PlanAddon(
        id=row["id"],
        namespace=row["namespace"],
        plan_id=row["plan_id"],
        addon_id=row["addon_id"],
        from_plan_phase=row["from_plan_phase"],
        max_quantity=row["max_quantity"],
        metadata=dict(row["metadata"] or {}),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
    )


def _conflict(a: Addon) -> ConflictMessage:
    def message(violated: str) -> str:
        if "draft" in violated:
            return f"add-on {a.key} already has a draft version"
        if "version" in violated:
            return f"add-on {a.key} already has version {a.version}"
        return f"add-on with id {a.id} already exists"

    return message


def _offer_conflict(_violated: str) -> str:
    return "the plan already offers this add-on"


class AddonQueries(SqlBase):
    def insert_addon(self, addon: Addon) -> None:
        with self._write(_conflict(addon)) as conn:
            conn.execute(insert(addons).values(to_row_addon(addon)))

    def get_addon(self, namespace: str, addon_id: str) -> Addon | None:
        with self._read() as conn:
            row = conn.execute(by_id(addons, namespace, addon_id)).mappings().first()
            return from_row_addon(row) if row is not None else None

    def addon_versions(self, namespace: str, key: str) -> list[Addon]:
        with self._read() as conn:
            rows = conn.execute(versions_of(addons, namespace, key)).mappings()
            return [from_row_addon(r) for r in rows]

    def list_addons(self, query: AddonListQuery) -> list[Addon]:
        with self._read() as conn:
            return [from_row_addon(r) for r in conn.execute(listing(addons, query)).mappings()]

    def save_addons(self, items: Sequence[Addon]) -> None:
        if not items:
            return
        with self._write(_conflict(items[-1])) as conn:
            for a in items:
                row = to_row_addon(a)
                del row["id"]
                conn.execute(update(addons).where(addons.c.id == a.id).values(row))

    def insert_plan_addon(self, item: PlanAddon) -> None:
        with self._write(_offer_conflict) as conn:
            conn.execute(insert(plan_addons).values(to_row_plan_addon(item)))

    def plan_addons(self, namespace: str, plan_id: str) -> list[PlanAddon]:
        with self._read() as conn:
            rows = conn.execute(
                select(plan_addons)
                .where(
                    plan_addons.c.namespace == namespace,
                    plan_addons.c.plan_id == plan_id,
                    plan_addons.c.deleted_at.is_(None),
                )
                .order_by(plan_addons.c.created_at.asc(), plan_addons.c.id.asc())
            ).mappings()
            return [from_row_plan_addon(r) for r in rows]

    def save_plan_addon(self, item: PlanAddon) -> None:
        row = to_row_plan_addon(item)
        del row["id"]
        with self._write(_offer_conflict) as conn:
            conn.execute(update(plan_addons).where(plan_addons.c.id == item.id).values(row))
