"""Subscription queries of the state store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Table, insert, or_, select, update

from meterd.domain.subscriptions import EntitlementLink, Subscription, SubscriptionAddon
from meterd.storage.sql.base import SqlBase
from meterd.storage.sql.subscriptions_rows import (
    addon_from_row,
    addon_to_row,
    from_row,
    link_from_row,
    link_to_row,
    to_row,
)
from meterd.storage.sql.subscriptions_tables import (
    subscription_addons,
    subscription_entitlements,
    subscriptions,
)


def _upsert(conn: Connection, table: Table, key: str, row: dict[str, object]) -> None:
    column = table.c[key]
    exists = conn.scalar(select(column).where(column == row[key]))
    if exists is None:
        conn.execute(insert(table).values(row))
    else:
        conn.execute(update(table).where(column == row[key]).values(row))


class SubscriptionQueries(SqlBase):
    def insert_subscription(self, sub: Subscription) -> None:
        with self._write(lambda _v: f"subscription with id {sub.id} already exists") as conn:
            conn.execute(insert(subscriptions).values(to_row(sub)))

    def save_subscriptions(self, subs: Sequence[Subscription]) -> None:
        if not subs:
            return
        with self._write(lambda _v: "subscription conflict") as conn:
            for s in subs:
                _upsert(conn, subscriptions, "id", to_row(s))

    def get_subscription(self, namespace: str, subscription_id: str) -> Subscription | None:
        with self._read() as conn:
            row = (
                conn.execute(
                    select(subscriptions).where(
                        subscriptions.c.namespace == namespace,
                        subscriptions.c.id == subscription_id,
                    )
                )
                .mappings()
                .first()
            )
            return from_row(row) if row is not None else None

    def customer_subscriptions(self, namespace: str, customer_id: str) -> list[Subscription]:
        with self._read() as conn:
            rows = conn.execute(
                select(subscriptions)
                .where(
                    subscriptions.c.namespace == namespace,
                    subscriptions.c.customer_id == customer_id,
                    subscriptions.c.deleted_at.is_(None),
                )
                .order_by(subscriptions.c.active_from, subscriptions.c.id)
            ).mappings()
            return [from_row(r) for r in rows]

    def subscriptions_running_at(
        self,
        namespace: str,
        at: datetime,
        customer_ids: Sequence[str] | None = None,
        plan_key: str | None = None,
    ) -> list[Subscription]:
        where = [
            subscriptions.c.namespace == namespace,
            subscriptions.c.deleted_at.is_(None),
            subscriptions.c.active_from <= at,
            or_(subscriptions.c.active_to.is_(None), subscriptions.c.active_to > at),
        ]
        if plan_key is not None:
            where.append(subscriptions.c.plan_key == plan_key)
        stmt = select(subscriptions).order_by(subscriptions.c.active_from, subscriptions.c.id)
        with self._read() as conn:
            if customer_ids is None:
                return [from_row(r) for r in conn.execute(stmt.where(*where)).mappings()]
            out: list[Subscription] = []
            wanted = list(dict.fromkeys(customer_ids))
            # Bounded IN lists keep every backend under its bind-parameter limit.
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                rows = conn.execute(stmt.where(*where, subscriptions.c.customer_id.in_(chunk)))
                out.extend(from_row(r) for r in rows.mappings())
            return out

    def running_subscriptions(self, ended_after: datetime) -> list[Subscription]:
        with self._read() as conn:
            rows = conn.execute(
                select(subscriptions)
                .where(
                    subscriptions.c.deleted_at.is_(None),
                    or_(
                        subscriptions.c.active_to.is_(None),
                        subscriptions.c.active_to > ended_after,
                    ),
                )
                .order_by(subscriptions.c.namespace, subscriptions.c.customer_id)
            ).mappings()
            return [from_row(r) for r in rows]

    def insert_subscription_addon(self, item: SubscriptionAddon) -> None:
        with self._write(
            lambda _v: f"subscription {item.subscription_id} already has add-on {item.addon_id}"
        ) as conn:
            conn.execute(insert(subscription_addons).values(addon_to_row(item)))

    def save_subscription_addon(self, item: SubscriptionAddon) -> None:
        with self._write(lambda _v: "subscription add-on conflict") as conn:
            _upsert(conn, subscription_addons, "id", addon_to_row(item))

    def subscription_addons(self, namespace: str, subscription_id: str) -> list[SubscriptionAddon]:
        with self._read() as conn:
            rows = conn.execute(
                select(subscription_addons)
                .where(
                    subscription_addons.c.namespace == namespace,
                    subscription_addons.c.subscription_id == subscription_id,
                    subscription_addons.c.deleted_at.is_(None),
                )
                .order_by(subscription_addons.c.created_at, subscription_addons.c.id)
            ).mappings()
            return [addon_from_row(r) for r in rows]

    def entitlement_links(self, namespace: str, subscription_id: str) -> list[EntitlementLink]:
        with self._read() as conn:
            rows = conn.execute(
                select(subscription_entitlements)
                .where(
                    subscription_entitlements.c.namespace == namespace,
                    subscription_entitlements.c.subscription_id == subscription_id,
                )
                .order_by(subscription_entitlements.c.created_at)
            ).mappings()
            return [link_from_row(r) for r in rows]

    def save_entitlement_link(self, link: EntitlementLink) -> None:
        with self._write(lambda _v: "entitlement link conflict") as conn:
            _upsert(conn, subscription_entitlements, "entitlement_id", link_to_row(link))
