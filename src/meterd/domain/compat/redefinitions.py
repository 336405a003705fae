"""What depends on a meter's definition, kept true when the meter is redefined.

Meter queries and gathering invoices aggregate raw events when read, so they
follow a redefinition at once. Two things keep numbers computed under the old
definition:

* entitlement balance snapshots of every entitlement of a feature on the
  meter. Their ``basis`` already names the meter's definition, so a check
  would ignore them anyway; they are dropped here so none outlives it.
* draft invoices priced with the meter's usage; their lines on the meter's
  features are re-priced.

A redefinition that metered entitlements cannot burn down against (MIN, MAX,
AVG, FIRST) is refused while a live metered entitlement uses the meter:
every balance check of it would fail from then on.
"""

from __future__ import annotations

from meterd.core.errors import ValidationError
from meterd.domain.billing import InvoiceActions, InvoiceListQuery, InvoiceService
from meterd.domain.entitlements import (
    EntitlementListQuery,
    EntitlementService,
    EntitlementType,
    SnapshotStore,
)
from meterd.domain.entitlements.models import Entitlement
from meterd.domain.features import METERED_AGGREGATIONS, FeatureListQuery, FeatureService
from meterd.domain.meters import Meter

_PAGE = 1000


class MeterDependents:
    """Registered with ``MeterService.add_dependents``."""

    def __init__(
        self,
        features: FeatureService,
        entitlements: EntitlementService,
        snapshots: SnapshotStore,
    ) -> None:
        self._features = features
        self._entitlements = entitlements
        self._snapshots = snapshots
        self._invoices: InvoiceService | None = None
        self._actions: InvoiceActions | None = None

    def reprice_drafts_with(self, invoices: InvoiceService, actions: InvoiceActions) -> None:
        self._invoices, self._actions = invoices, actions

    def check_redefinition(self, before: Meter, after: Meter) -> None:
        if after.aggregation in METERED_AGGREGATIONS:
            return
        for ent in self._entitlements_of(before, include_deleted=False):
            if ent.type is EntitlementType.METERED:
                raise ValidationError.single(
                    "aggregation",
                    "meter_in_use",
                    f"metered entitlements of feature {ent.feature_key} burn down "
                    f"{before.slug}; they need a SUM, COUNT, UNIQUE_COUNT or LATEST meter",
                )

    def meter_redefined(self, before: Meter, after: Meter) -> None:
        del after
        keys = self._feature_keys(before)
        for ent in self._entitlements_of(before, include_deleted=True, keys=keys):
            if ent.type is EntitlementType.METERED:
                self._snapshots.drop_snapshots(before.namespace, ent.id, None)
        self._reprice(before.namespace, set(keys))

    def _feature_keys(self, meter: Meter) -> list[str]:
        found = self._features.list_features(
            FeatureListQuery(
                namespace=meter.namespace,
                include_archived=True,
                meter_slugs=(meter.slug,),
                limit=_PAGE,
            )
        )
        return sorted({f.key for f in found.items} | {f.id for f in found.items})

    def _entitlements_of(
        self, meter: Meter, *, include_deleted: bool, keys: list[str] | None = None
    ) -> list[Entitlement]:
        keys = self._feature_keys(meter) if keys is None else keys
        if not keys:
            return []
        out: list[Entitlement] = []
        offset = 0
        while True:
            page = self._entitlements.list_entitlements(
                EntitlementListQuery(
                    namespace=meter.namespace,
                    feature_keys_or_ids=tuple(keys),
                    include_deleted=include_deleted,
                    offset=offset,
                    limit=_PAGE,
                )
            )
            out.extend(page.items)
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return out

    def _reprice(self, namespace: str, feature_keys: set[str]) -> None:
        if self._invoices is None or self._actions is None or not feature_keys:
            return
        offset = 0
        while True:
            drafts, total = self._invoices.list_invoices(
                InvoiceListQuery(
                    namespace=namespace, statuses=("draft",), offset=offset, limit=_PAGE
                )
            )
            for invoice in drafts:
                if any(line.feature_key in feature_keys for line in invoice.lines):
                    self._actions.recalculate(namespace, invoice.id)
            offset += len(drafts)
            if not drafts or offset >= total:
                return
