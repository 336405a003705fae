"""The customer access answer when entitlements come and go while it is computed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from meterd.domain.customers import Customer
from meterd.domain.entitlements.models import EntitlementValue
from meterd.domain.entitlements.service import EntitlementService
from tests.services.conftest import NS, World


class Racing(EntitlementService):
    """Deletes one entitlement right before its value is read, as a sweep might."""

    doomed: str = ""

    def value(
        self, namespace: str, customer: Customer, entitlement_ref: str, at: datetime | None
    ) -> EntitlementValue:
        if entitlement_ref == self.doomed:
            self.delete(namespace, customer, entitlement_ref)
        return super().value(namespace, customer, entitlement_ref, at)


def test_access_leaves_out_an_entitlement_removed_mid_answer(world: World) -> None:
    world.meter()
    world.feature("gpt4")
    world.feature("gpt5")
    acme = world.customer("acme", "acme")
    kept = world.metered(acme, "gpt4")
    gone = world.metered(acme, "gpt5")
    racing = Racing(
        entitlements=world.state,
        grants=world.state,
        snapshots=world.state,
        customers=world.state,
        features=world.features,
        usage=world.usage,
        clock=world.clock,
    )
    racing.doomed = gone.id
    values: dict[str, Any] = racing.access(NS, acme)
    assert list(values) == ["gpt4"]
    assert values["gpt4"] == world.entitlements.value(NS, acme, kept.id, None)
    assert world.entitlements.access(NS, acme).keys() == {"gpt4"}
