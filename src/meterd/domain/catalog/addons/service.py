"""Add-on lifecycle, and the add-ons a plan offers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from meterd.core.clock import Clock
from meterd.core.errors import ConflictError, IssueCollector, NotFoundError, ValidationError
from meterd.core.ids import new_ulid
from meterd.domain.catalog.addons._models import INSTANCE_TYPES, Addon, AddonListQuery, PlanAddon
from meterd.domain.catalog.addons.ports import AddonStore
from meterd.domain.catalog.plans import Plan, PlanService, Status, pick_version
from meterd.domain.catalog.plans._input import currency_of, rate_cards
from meterd.domain.catalog.plans._ratecards import key_of, string_map, text
from meterd.domain.catalog.plans.ports import FeatureKeys
from meterd.domain.catalog.plans.service import ORDER_BY, SNAKE


def _instance(raw: object, issues: IssueCollector) -> str:
    if raw not in INSTANCE_TYPES:
        issues.add("instanceType", "invalid_enum", "instanceType is single or multiple")
        return "single"
    return str(raw)


class AddonService:
    def __init__(
        self, store: AddonStore, features: FeatureKeys, plans: PlanService, clock: Clock
    ) -> None:
        self._store = store
        self._features = features
        self._plans = plans
        self._clock = clock

    def _settable(
        self, namespace: str, body: Mapping[str, Any], issues: IssueCollector
    ) -> dict[str, Any]:
        def exists(key: str) -> bool:
            return self._features.feature_exists(namespace, key)

        return {
            "name": text(body.get("name"), "name", issues) or "",
            "description": text(body.get("description"), "description", issues, required=False),
            "metadata": string_map(body.get("metadata"), "metadata", issues),
            "instance_type": _instance(body.get("instanceType"), issues),
            "rate_cards": rate_cards(body.get("rateCards"), "rateCards", issues, exists),
        }

    def _next_version(self, namespace: str, key: str) -> int:
        versions = self._store.addon_versions(namespace, key)
        if any(a.deleted_at is None and a.effective_from is None for a in versions):
            raise ConflictError(f"add-on {key} already has a draft version")
        return max((a.version for a in versions), default=0) + 1

    def create(self, namespace: str, body: Mapping[str, Any]) -> Addon:
        issues = IssueCollector()
        key = key_of(body.get("key"), "key", issues)
        currency = currency_of(body.get("currency"), issues)
        values = self._settable(namespace, body, issues)
        issues.raise_if_any()
        assert key is not None and currency is not None
        now = self._clock.now()
        addon = Addon(
            id=new_ulid(),
            namespace=namespace,
            key=key,
            version=self._next_version(namespace, key),
            currency=currency,
            created_at=now,
            updated_at=now,
            **values,
        )
        self._store.insert_addon(addon)
        return addon

    def get(self, namespace: str, id_or_key: str, include_latest: bool = False) -> Addon:
        found = self._store.get_addon(namespace, id_or_key)
        if found is not None:
            return found
        versions = self._store.addon_versions(namespace, id_or_key)
        picked = pick_version(versions, self._clock.now(), include_latest)
        if picked is None:
            raise NotFoundError(f"add-on not found: {id_or_key}")
        return picked

    def list_addons(self, query: AddonListQuery, statuses: tuple[str, ...] = ()) -> list[Addon]:
        query = replace(query, order_by=SNAKE.get(query.order_by, query.order_by))
        if query.order_by not in ORDER_BY:
            raise ValidationError.single(
                "orderBy", "invalid_enum", "orderBy is one of " + ", ".join(ORDER_BY)
            )
        if any(s not in {x.value for x in Status} for s in statuses):
            raise ValidationError.single("status", "invalid_enum", "unknown status")
        now = self._clock.now()
        found = self._store.list_addons(query)
        return [a for a in found if not statuses or a.status(now).value in statuses]

    def _live(self, namespace: str, addon_id: str) -> Addon:
        addon = self.get(namespace, addon_id)
        if addon.deleted_at is not None:
            raise NotFoundError(f"add-on not found: {addon_id}")
        return addon

    def update(self, namespace: str, addon_id: str, body: Mapping[str, Any]) -> Addon:
        addon = self._live(namespace, addon_id)
        now = self._clock.now()
        if addon.status(now) is not Status.DRAFT:
            raise ConflictError(f"only a draft add-on can be updated; {addon.id} is not")
        issues = IssueCollector()
        values = self._settable(namespace, body, issues)
        issues.raise_if_any()
        updated = replace(addon, updated_at=now, **values)
        self._store.save_addons([updated])
        return updated

    def delete(self, namespace: str, addon_id: str) -> None:
        addon = self._live(namespace, addon_id)
        now = self._clock.now()
        if addon.status(now) not in (Status.DRAFT, Status.SCHEDULED):
            raise ConflictError(
                f"only a draft or scheduled add-on can be deleted; {addon.id} is not"
            )
        self._store.save_addons([replace(addon, deleted_at=now, updated_at=now)])

    def publish(self, namespace: str, addon_id: str) -> Addon:
        addon = self._live(namespace, addon_id)
        now = self._clock.now()
        if addon.status(now) is not Status.DRAFT:
            raise ConflictError(f"only a draft add-on can be published; {addon.id} is not")
        if not addon.rate_cards:
            raise ValidationError.single(
                "rateCards", "required", "a published add-on charges something"
            )
        ending = [
            replace(a, effective_to=now, updated_at=now)
            for a in self._store.addon_versions(namespace, addon.key)
            if a.deleted_at is None
            and a.id != addon.id
            and a.effective_from is not None
            and (a.effective_to is None or a.effective_to > now)
        ]
        published = replace(addon, effective_from=now, effective_to=None, updated_at=now)
        self._store.save_addons([*ending, published])
        return published

    def archive(self, namespace: str, addon_id: str) -> Addon:
        addon = self._live(namespace, addon_id)
        now = self._clock.now()
        if addon.status(now) is not Status.ACTIVE:
            raise ConflictError(f"only an active add-on can be archived; {addon.id} is not")
        archived = replace(addon, effective_to=now, updated_at=now)
        self._store.save_addons([archived])
        return archived

    # -- the add-ons a plan offers ------------------------------------------------

    def _offer_fields(
        self, plan: Plan, body: Mapping[str, Any], issues: IssueCollector
    ) -> tuple[str, int | None, dict[str, str]]:
        phase = body.get("fromPlanPhase")
        if not isinstance(phase, str) or phase not in {p.key for p in plan.phases}:
            issues.add("fromPlanPhase", "phase_not_found", f"plan {plan.key} has no phase {phase}")
        most = body.get("maxQuantity")
        if most is not None and (isinstance(most, bool) or not isinstance(most, int) or most < 1):
            issues.add("maxQuantity", "invalid_value", "maxQuantity is a positive integer")
        metadata = string_map(body.get("metadata"), "metadata", issues)
        return str(phase), most, metadata

    def add_to_plan(self, namespace: str, plan_id: str, body: Mapping[str, Any]) -> PlanAddon:
        plan = self._plans.get(namespace, plan_id)
        issues = IssueCollector()
        addon: Addon | None = None
        raw_id = body.get("addonId")
        if not isinstance(raw_id, str) or not raw_id:
            issues.add("addonId", "required", "addonId names an add-on")
        else:
            try:
                addon = self.get(namespace, raw_id)
            except NotFoundError:
                issues.add("addonId", "addon_not_found", f"add-on not found: {raw_id}")
        now = self._clock.now()
        if addon is not None:
            if addon.currency != plan.currency:
                issues.add(
                    "addonId",
                    "currency_mismatch",
                    f"the add-on is in {addon.currency}, the plan in {plan.currency}",
                )
            if addon.status(now) is not Status.ACTIVE:
                issues.add(
                    "addonId", "addon_not_published", "only a published add-on can be offered"
                )
        phase, most, metadata = self._offer_fields(plan, body, issues)
        issues.raise_if_any()
        assert addon is not None
        if plan.status(now) not in (Status.DRAFT, Status.SCHEDULED):
            raise ConflictError("add-ons can only be offered by a draft or scheduled plan")
        item = PlanAddon(
            id=new_ulid(),
            namespace=namespace,
            plan_id=plan.id,
            addon_id=addon.id,
            from_plan_phase=phase,
            max_quantity=most,
            metadata=metadata,
            created_at=now,
            updated_at=now,
        )
        self._store.insert_plan_addon(item)
        return item

    def plan_offers(self, namespace: str, plan_id: str) -> tuple[Plan, list[PlanAddon]]:
        plan = self._plans.get(namespace, plan_id)
        return plan, self._store.plan_addons(namespace, plan.id)

    def plan_offer(self, namespace: str, plan_id: str, offer_id: str) -> PlanAddon:
        _, offers = self.plan_offers(namespace, plan_id)
        # Offers are named by their own id or by the add-on's.
        for item in offers:
            if offer_id in (item.id, item.addon_id):
                return item
        raise NotFoundError(f"plan add-on not found: {offer_id}")

    def update_offer(
        self, namespace: str, plan_id: str, offer_id: str, body: Mapping[str, Any]
    ) -> PlanAddon:
        item = self.plan_offer(namespace, plan_id, offer_id)
        plan = self._plans.get(namespace, item.plan_id)
        issues = IssueCollector()
        phase, most, metadata = self._offer_fields(plan, body, issues)
        issues.raise_if_any()
        updated = replace(
            item,
            from_plan_phase=phase,
            max_quantity=most,
            metadata=metadata,
            updated_at=self._clock.now(),
        )
        self._store.save_plan_addon(updated)
        return updated

    def remove_offer(self, namespace: str, plan_id: str, offer_id: str) -> None:
        item = self.plan_offer(namespace, plan_id, offer_id)
        now = self._clock.now()
        self._store.save_plan_addon(replace(item, deleted_at=now, updated_at=now))
