"""Billing profiles, customer overrides and the built-in invoicing app.

Every namespace has a default profile from its first use: it bills through
the built-in sandbox app with OpenMeter's default workflow, so invoicing
works with no setup. Exactly one live profile is the default.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from meterd.core.clock import Clock
from meterd.core.errors import ConflictError, IssueCollector, NotFoundError, ValidationError
from meterd.core.ids import new_ulid
from meterd.domain.billing.models import (
    SANDBOX_APP_ID,
    BillingProfile,
    CustomerOverride,
    TaxConfig,
    Workflow,
)
from meterd.domain.billing.ports import Customers, CustomerView, ProfileStore
from meterd.domain.billing.workflow import parse_party, parse_tax_config, parse_workflow

DEFAULT_NAME = "Default billing profile"


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectiveProfile:
    """A customer's profile with the customer's override applied."""

    profile: BillingProfile
    override: CustomerOverride | None
    tax_config: TaxConfig | None

    @property
    def workflow(self) -> Workflow:
        return self.profile.workflow


def _text(raw: object, where: str, issues: IssueCollector, required: bool) -> str | None:
    if raw is None and not required:
        return None
    if not isinstance(raw, str) or not raw or len(raw) > 256:
        issues.add(where, "required", f"{where} is a string of 1 to 256 characters")
        return None
    return raw


def _metadata(raw: object, issues: IssueCollector) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        issues.add("metadata", "invalid_type", "metadata maps strings to strings")
        return {}
    return dict(raw)


class ProfileService:
    def __init__(self, store: ProfileStore, customers: Customers, clock: Clock) -> None:
        self._store = store
        self._customers = customers
        self._clock = clock

    # --- profiles -------------------------------------------------------

    def default_profile(self, namespace: str) -> BillingProfile:
        found = self._store.default_billing_profile(namespace)
        if found is not None:
            return found
        now = self._clock.now()
        profile = BillingProfile(
            id=new_ulid(),
            namespace=namespace,
            name=DEFAULT_NAME,
            description="Invoices through the built-in invoicing app",
            metadata={},
            supplier={"name": "Default supplier"},
            workflow=Workflow(),
            default=True,
            created_at=now,
            updated_at=now,
        )
        # A concurrent first use may have created it already; theirs is the default.
        with contextlib.suppress(ConflictError):
            self._store.insert_billing_profile(profile)
        found = self._store.default_billing_profile(namespace)
        assert found is not None
        return found

    def _read(self, body: Mapping[str, Any], base: BillingProfile | None) -> dict[str, Any]:
        issues = IssueCollector()
        out: dict[str, Any] = {
            "name": _text(body.get("name"), "name", issues, True),
            "description": _text(body.get("description"), "description", issues, False),
            "metadata": _metadata(body.get("metadata"), issues),
            "supplier": parse_party(body.get("supplier"), "supplier", issues),
        }
        if "supplier" not in body:
            issues.add("supplier", "required", "supplier is required")
        default = body.get("default", False)
        if not isinstance(default, bool):
            issues.add("default", "invalid_type", "default is true or false")
            default = False
        out["default"] = default
        out["workflow"] = parse_workflow(
            body.get("workflow"), "workflow", issues, base.workflow if base else None
        )
        if base is None:
            apps = body.get("apps")
            if apps is not None and not isinstance(apps, Mapping):
                issues.add("apps", "invalid_type", "apps names the tax, invoicing and payment apps")
            for role in ("tax", "invoicing", "payment"):
                app = apps.get(role) if isinstance(apps, Mapping) else None
                if app is not None and app not in (SANDBOX_APP_ID, "sandbox"):
                    issues.add(f"apps.{role}", "not_found", f"app {app} is not installed")
        issues.raise_if_any()
        return out

    def create(self, namespace: str, body: Mapping[str, Any]) -> BillingProfile:
        fields = self._read(body, None)
        self.default_profile(namespace)
        now = self._clock.now()
        profile = BillingProfile(
            id=new_ulid(), namespace=namespace, created_at=now, updated_at=now, **fields
        )
        if profile.default:
            self._demote_default(namespace, now)
        self._store.insert_billing_profile(profile)
        return profile

    def _demote_default(self, namespace: str, now: Any) -> None:
        current = self._store.default_billing_profile(namespace)
        if current is not None:
            self._store.update_billing_profile(replace(current, default=False, updated_at=now))

    def get(self, namespace: str, profile_id: str) -> BillingProfile:
        self.default_profile(namespace)
        found = self._store.get_billing_profile(namespace, profile_id)
        if found is None:
            raise NotFoundError(f"billing profile {profile_id} not found")
        return found

    def list_profiles(self, namespace: str, include_archived: bool) -> list[BillingProfile]:
        self.default_profile(namespace)
        return self._store.list_billing_profiles(namespace, include_archived)

    def update(self, namespace: str, profile_id: str, body: Mapping[str, Any]) -> BillingProfile:
        current = self.get(namespace, profile_id)
        if current.deleted_at is not None:
            raise ConflictError(f"billing profile {profile_id} is deleted")
        fields = self._read(body, current)
        now = self._clock.now()
        if current.default and not fields["default"]:
            raise ValidationError.single(
                "default", "default_required", "a namespace always has a default profile"
            )
        if fields["default"] and not current.default:
            self._demote_default(namespace, now)
        updated = replace(current, updated_at=now, **fields)
        self._store.update_billing_profile(updated)
        return updated

    def delete(self, namespace: str, profile_id: str) -> None:
        current = self.get(namespace, profile_id)
        if current.deleted_at is not None:
            return
        if current.default:
            raise ConflictError("the default billing profile cannot be deleted")
        if self._store.profile_in_use(namespace, profile_id):
            raise ConflictError(
                f"billing profile {profile_id} is pinned by customers or has open invoices"
            )
        now = self._clock.now()
        self._store.update_billing_profile(replace(current, deleted_at=now, updated_at=now))

    # --- customer overrides --------------------------------------------

    def customer(self, namespace: str, id_or_key: str) -> CustomerView:
        return self._customers.billing_customer(namespace, id_or_key)

    def effective(self, namespace: str, customer_id: str) -> EffectiveProfile:
        override = self._store.get_customer_override(namespace, customer_id)
        profile = None
        if override is not None and override.billing_profile_id is not None:
            profile = self._store.get_billing_profile(namespace, override.billing_profile_id)
        if profile is None or profile.deleted_at is not None:
            profile = self.default_profile(namespace)
        tax = override.tax_config if override is not None else None
        return EffectiveProfile(profile=profile, override=override, tax_config=tax)

    def upsert_override(
        self, namespace: str, customer_id: str, body: Mapping[str, Any]
    ) -> tuple[CustomerView, EffectiveProfile]:
        customer = self.customer(namespace, customer_id)
        issues = IssueCollector()
        profile_id = body.get("billingProfileId")
        if profile_id is not None:
            if not isinstance(profile_id, str):
                issues.add("billingProfileId", "invalid_type", "billingProfileId is an id")
            else:
                found = self._store.get_billing_profile(namespace, profile_id)
                if found is None or found.deleted_at is not None:
                    issues.add("billingProfileId", "not_found", f"no profile {profile_id}")
        tax = parse_tax_config(body.get("taxConfig"), "taxConfig", issues)
        issues.raise_if_any()
        now = self._clock.now()
        existing = self._store.get_customer_override(namespace, customer.id)
        self._store.upsert_customer_override(
            CustomerOverride(
                namespace=namespace,
                customer_id=customer.id,
                billing_profile_id=profile_id if isinstance(profile_id, str) else None,
                tax_config=tax,
                created_at=existing.created_at if existing else now,
                updated_at=now,
            )
        )
        return customer, self.effective(namespace, customer.id)

    def get_override(
        self, namespace: str, customer_id: str
    ) -> tuple[CustomerView, EffectiveProfile]:
        customer = self.customer(namespace, customer_id)
        return customer, self.effective(namespace, customer.id)

    def delete_override(self, namespace: str, customer_id: str) -> None:
        customer = self.customer(namespace, customer_id)
        if not self._store.delete_customer_override(namespace, customer.id):
            raise NotFoundError(f"customer {customer_id} has no billing override")

    def list_overrides(self, namespace: str) -> list[CustomerOverride]:
        return self._store.list_customer_overrides(namespace)
