"""Vayu credits and invoices through vayu-py."""

from __future__ import annotations

import json
from typing import Any

from compatrun import emit, inputs, key, status_of, url
from openapi.exceptions import ApiException
from openapi.models.deduct_credits_request import DeductCreditsRequest
from openapi.models.grant_credits_request import GrantCreditsRequest
from vayu_sdk import Vayu

cfg = inputs()
vayu = Vayu(key(), host=url() + "/vayu")
out: dict[str, Any] = {}


def dump(model: Any) -> Any:
    return json.loads(json.dumps(model.to_dict(), default=str))


cid = vayu.customers.getByExternalId(cfg["customer"]).customer.id
out["customer_id"] = cid
vayu.credits.grant(GrantCreditsRequest(creditAmount=15, customerId=cid))
out["deduct"] = status_of(
    lambda: vayu.credits.deduct(DeductCreditsRequest(creditAmount=1, customerId=cid)),
    (ApiException,),
)
out["deduct_too_much"] = status_of(
    lambda: vayu.credits.deduct(DeductCreditsRequest(creditAmount=100, customerId=cid)),
    (ApiException,),
)
out["ledger"] = dump(vayu.credits.list_ledger_entries(customer_id=cid))
out["invoices"] = dump(vayu.invoices.list(limit=10))
first = out["invoices"]["invoices"][0]["id"]
out["invoice"] = dump(vayu.invoices.get(first))
out["payment"] = dump(vayu.invoices.get_payment_status(first))
emit(out)
