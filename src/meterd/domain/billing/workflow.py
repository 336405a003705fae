"""Reading workflow settings, tax configs and parties from OpenMeter wire JSON.

Every problem is reported with its field path, all at once. Durations are
ISO 8601; ``P0D`` (no wait at all) is allowed where OpenMeter allows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from meterd.core.errors import IssueCollector
from meterd.core.money import parse_decimal
from meterd.core.periods import parse_rfc3339
from meterd.domain.billing.models import TaxConfig, Workflow
from meterd.domain.entitlements.durations import CalendarInterval

TAX_BEHAVIORS = ("inclusive", "exclusive")
PRORATION_MODES = ("bill_actual_period", "bill_full_period")
COLLECTION_METHODS = ("charge_automatically", "send_invoice")
_ZERO_DURATIONS = ("P0D", "PT0S", "PT0H", "PT0M", "P0M", "P0W", "P0Y")


def at(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def add_duration(start: datetime, duration: str) -> datetime:
    """``start`` plus an ISO 8601 duration already checked by ``duration_field``."""
    if duration.upper() in _ZERO_DURATIONS:
        return start
    return CalendarInterval.parse(duration).add(start, 1)


def collection_point(workflow: Workflow, at: datetime) -> datetime:
    """When a line due at ``at`` is collected onto an invoice.

    Subscription alignment collects it when it is due; anchored alignment
    waits for the next point of the workflow's own recurring period.
    """
    if workflow.alignment.get("type") != "anchored":
        return at
    period = workflow.alignment.get("recurringPeriod") or {}
    try:
        step = CalendarInterval.parse(str(period.get("interval")))
        anchor = parse_rfc3339(str(period.get("anchor")))
    except ValueError:
        return at
    return at if step.floor(anchor, at) == at else step.next_after(anchor, at)


def duration_field(raw: object, where: str, issues: IssueCollector) -> str | None:
    if not isinstance(raw, str):
        issues.add(where, "invalid_type", "must be an ISO 8601 duration such as P1D")
        return None
    if raw.upper() in _ZERO_DURATIONS:
        return raw.upper()
    try:
        CalendarInterval.parse(raw)
    except ValueError:
        issues.add(where, "invalid_duration", "must be an ISO 8601 duration such as P1D")
        return None
    return raw.upper()


def _obj(raw: object, where: str, issues: IssueCollector) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        issues.add(where, "invalid_type", "must be a JSON object")
        return {}
    return raw


def _bool(
    raw: Mapping[str, Any], name: str, where: str, default: bool, issues: IssueCollector
) -> bool:
    value = raw.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        issues.add(at(where, name), "invalid_type", f"{name} is true or false")
        return default
    return value


def _choice(
    raw: Mapping[str, Any],
    name: str,
    where: str,
    options: tuple[str, ...],
    default: str,
    issues: IssueCollector,
) -> str:
    value = raw.get(name)
    if value is None:
        return default
    if value not in options:
        issues.add(at(where, name), "invalid_enum", f"{name} is one of " + ", ".join(options))
        return default
    return str(value)


def parse_tax_config(raw: object, where: str, issues: IssueCollector) -> TaxConfig | None:
    if raw is None:
        return None
    body = _obj(raw, where, issues)
    behavior = body.get("behavior")
    if behavior is not None and behavior not in TAX_BEHAVIORS:
        issues.add(at(where, "behavior"), "invalid_enum", "behavior is inclusive or exclusive")
        behavior = None
    percent: Decimal | None = None
    if body.get("percent") is not None:
        percent = parse_decimal(body.get("percent"))
        if percent is None or not Decimal(0) <= percent <= Decimal(100):
            issues.add(at(where, "percent"), "out_of_range", "percent is a number from 0 to 100")
            percent = None
    extra = {k: body[k] for k in ("stripe", "customInvoicing", "taxCodeId") if k in body}
    return TaxConfig(behavior=behavior, percent=percent, extra=extra)


def _alignment(raw: object, where: str, issues: IssueCollector) -> dict[str, Any]:
    body = _obj(raw, where, issues)
    kind = body.get("type", "subscription")
    if kind == "subscription":
        return {"type": "subscription"}
    if kind != "anchored":
        issues.add(at(where, "type"), "invalid_enum", "type is subscription or anchored")
        return {"type": "subscription"}
    period = _obj(body.get("recurringPeriod"), at(where, "recurringPeriod"), issues)
    duration_field(period.get("interval"), at(at(where, "recurringPeriod"), "interval"), issues)
    if not _is_time(period.get("anchor")):
        issues.add(at(at(where, "recurringPeriod"), "anchor"), "required", "anchor is a timestamp")
    return {"type": "anchored", "recurringPeriod": dict(period)}


def _is_time(raw: object) -> bool:
    if not isinstance(raw, str):
        return False
    try:
        parse_rfc3339(raw)
    except ValueError:
        return False
    return True


def parse_workflow(
    raw: object, where: str, issues: IssueCollector, base: Workflow | None = None
) -> Workflow:
    """A workflow from wire JSON; missing settings keep ``base`` (or the defaults)."""
    wf = base or Workflow()
    body = _obj(raw, where, issues)
    collection = _obj(body.get("collection"), at(where, "collection"), issues)
    invoicing = _obj(body.get("invoicing"), at(where, "invoicing"), issues)
    payment = _obj(body.get("payment"), at(where, "payment"), issues)
    tax = _obj(body.get("tax"), at(where, "tax"), issues)
    cw, iw = at(where, "collection"), at(where, "invoicing")

    def dur(section: Mapping[str, Any], name: str, where: str, default: str) -> str:
        if section.get(name) is None:
            return default
        return duration_field(section.get(name), at(where, name), issues) or default

    if "alignment" in collection:
        wf = replace(wf, alignment=_alignment(collection["alignment"], at(cw, "alignment"), issues))
    if "defaultTaxConfig" in invoicing:
        tax_where = at(iw, "defaultTaxConfig")
        wf = replace(
            wf,
            default_tax_config=parse_tax_config(invoicing["defaultTaxConfig"], tax_where, issues),
        )
    return replace(
        wf,
        collection_interval=dur(collection, "interval", cw, wf.collection_interval),
        auto_advance=_bool(invoicing, "autoAdvance", iw, wf.auto_advance, issues),
        draft_period=dur(invoicing, "draftPeriod", iw, wf.draft_period),
        due_after=dur(invoicing, "dueAfter", iw, wf.due_after),
        progressive_billing=_bool(
            invoicing, "progressiveBilling", iw, wf.progressive_billing, issues
        ),
        end_proration_mode=_choice(
            invoicing, "subscriptionEndProrationMode", iw, PRORATION_MODES,
            wf.end_proration_mode, issues,
        ),
        collection_method=_choice(
            payment, "collectionMethod", at(where, "payment"), COLLECTION_METHODS,
            wf.collection_method, issues,
        ),
        tax_enabled=_bool(tax, "enabled", at(where, "tax"), wf.tax_enabled, issues),
        tax_enforced=_bool(tax, "enforced", at(where, "tax"), wf.tax_enforced, issues),
    )  # fmt: skip


_PARTY_TEXT = ("key", "name")
_ADDRESS_FIELDS = ("country", "postalCode", "state", "city", "line1", "line2", "phoneNumber")


def parse_party(raw: object, where: str, issues: IssueCollector) -> dict[str, Any]:
    """A ``BillingParty``: name, key, tax id and addresses, kept in wire form."""
    body = _obj(raw, where, issues)
    out: dict[str, Any] = {}
    for name in _PARTY_TEXT:
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > 256:
            issues.add(at(where, name), "invalid_type", f"{name} is a string of at most 256")
            continue
        out[name] = value
    tax_id = body.get("taxId")
    if tax_id is not None:
        tax = _obj(tax_id, at(where, "taxId"), issues)
        if tax.get("code") is not None and not isinstance(tax.get("code"), str):
            issues.add(at(at(where, "taxId"), "code"), "invalid_type", "code is a string")
        elif tax.get("code") is not None:
            out["taxId"] = {"code": tax["code"]}
    addresses = body.get("addresses")
    if addresses is not None:
        if not isinstance(addresses, list) or len(addresses) > 1:
            issues.add(
                at(where, "addresses"), "invalid_type", "addresses holds at most one address"
            )
        else:
            kept: list[dict[str, str]] = []
            for i, item in enumerate(addresses):
                address = _obj(item, f"{at(where, 'addresses')}[{i}]", issues)
                kept.append({k: str(address[k]) for k in _ADDRESS_FIELDS if address.get(k)})
            out["addresses"] = kept
    return out
