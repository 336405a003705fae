"""``POST /vayu/webhook``: a Vayu subscription becomes a notification channel and rule.

Only event types with a meterd counterpart are accepted: usage crossing
(``Overage`` at 100 %, the commitment types at their ``threshold`` 0-1)
are balance-threshold rules; ``InvoiceApproved`` and
``InvoicePaymentStatusChanged`` are the invoice created and updated events.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from meterd.api.compat.vayu_common import PREFIX, TAGS, VayuRoute, container, require
from meterd.api.params import json_body, obj
from meterd.api.responses import JSON
from meterd.core.errors import ValidationError
from meterd.core.money import parse_decimal
from meterd.domain.auth import Operation, Principal
from meterd.domain.notifications import CHANNEL_TYPE, ChannelInput, RuleInput

router = APIRouter(prefix=PREFIX, tags=TAGS, route_class=VayuRoute)
WRITE = Depends(require(Operation.WRITE))
THRESHOLDS = {"Overage", "CommitmentUsageCrossed", "CurrencyCommitmentUsageCrossed"}
INVOICES = {
    "InvoiceApproved": "invoice.created",
    "InvoicePaymentStatusChanged": "invoice.updated",
}


def _rule(kind: str, body: dict[str, Any], channel: str) -> RuleInput:
    name = f"vayu {kind}"
    if kind in INVOICES:
        return RuleInput(type=INVOICES[kind], name=name, channels=[channel])
    share = Decimal(1)
    if kind != "Overage":
        raw = body.get("threshold")
        value = None if isinstance(raw, str) or raw is None else parse_decimal(raw)
        if value is None or not 0 < value <= 1:
            raise ValidationError.single("threshold", "invalid_range", "threshold is in (0, 1]")
        share = value
    return RuleInput(
        type="entitlements.balance.threshold",
        name=name,
        channels=[channel],
        thresholds=[{"type": "usage_percentage", "value": share * 100}],
    )


@router.post("/webhook")
async def subscribe(request: Request, who: Principal = WRITE) -> JSON:
    c = container(request)
    body = obj(await json_body(request))
    kind, url = body.get("eventType"), body.get("callbackUrl")
    if kind not in THRESHOLDS and kind not in INVOICES:
        supported = ", ".join(sorted(THRESHOLDS | set(INVOICES)))
        raise ValidationError.single(
            "eventType", "unsupported_event_type", f"eventType is one of {supported}"
        )
    if not isinstance(url, str) or not url:
        raise ValidationError.single("callbackUrl", "required", "callbackUrl is required")

    def create() -> dict[str, Any]:
        channel = c.notifications.create_channel(
            who.namespace, ChannelInput(type=CHANNEL_TYPE, name=f"vayu {kind}", url=url)
        )
        rule = c.notifications.create_rule(who.namespace, _rule(str(kind), body, channel.id))
        return {"channelId": channel.id, "ruleId": rule.id}

    return JSON(await run_in_threadpool(create))
