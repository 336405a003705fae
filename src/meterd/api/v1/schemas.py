"""Request-body schemas for the OpenAPI document.

Bodies are validated by the domain (which reports every bad field at once);
these models only describe them, so ``/docs`` and generated clients know the
shapes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Aggregation = Literal["SUM", "COUNT", "UNIQUE_COUNT", "AVG", "MIN", "MAX", "LATEST", "FIRST"]
WindowSize = Literal["MINUTE", "HOUR", "DAY", "MONTH"]


class MeterCreate(BaseModel):
    slug: str = Field(pattern=r"^[a-z0-9]+(?:_[a-z0-9]+)*$", max_length=64)
    aggregation: Aggregation
    eventType: str
    name: str | None = None
    description: str | None = None
    metadata: dict[str, str] | None = None
    eventFrom: datetime | None = None
    valueProperty: str | None = Field(None, description="JSONPath into data; not for COUNT")
    groupBy: dict[str, str] | None = Field(None, description="name -> JSONPath")
    filter: list[dict[str, dict[str, Any]]] | None = Field(
        None,
        description="Conditions OR-ed; each maps JSONPaths to FilterString operators, AND-ed.",
    )


class MeterUpdate(BaseModel):
    name: str | None = None
    description: str | None = None
    metadata: dict[str, str] | None = None
    groupBy: dict[str, str] | None = None
    filter: list[dict[str, dict[str, Any]]] | None = None


class MeterQueryRequest(BaseModel):
    from_: datetime | None = Field(None, alias="from")
    to: datetime | None = None
    windowSize: WindowSize | None = None
    windowTimeZone: str | None = "UTC"
    subject: list[str] | None = None
    filterCustomerId: list[str] | None = None
    filterGroupBy: dict[str, list[str]] | None = None
    advancedMeterGroupByFilters: dict[str, dict[str, Any]] | None = None
    groupBy: list[str] | None = None


class Address(BaseModel):
    country: str | None = None
    postalCode: str | None = None
    state: str | None = None
    city: str | None = None
    line1: str | None = None
    line2: str | None = None
    phoneNumber: str | None = None


class UsageAttribution(BaseModel):
    subjectKeys: list[str]


class CustomerCreate(BaseModel):
    name: str
    key: str | None = None
    description: str | None = None
    primaryEmail: str | None = None
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    usageAttribution: UsageAttribution | None = None
    billingAddress: Address | None = None
    metadata: dict[str, str] | None = None


class SubjectUpsert(BaseModel):
    key: str
    displayName: str | None = None
    metadata: dict[str, Any] | None = None
    currentPeriodStart: datetime | None = None
    currentPeriodEnd: datetime | None = None
    stripeCustomerId: str | None = None


class CloudEvent(BaseModel):
    id: str
    source: str
    specversion: str = "1.0"
    type: str
    subject: str
    time: datetime | None = None
    data: dict[str, Any] | None = None
    datacontenttype: Literal["application/json"] | None = None
    dataschema: str | None = None


MODELS: list[type[BaseModel]] = [
    MeterCreate,
    MeterUpdate,
    MeterQueryRequest,
    CustomerCreate,
    SubjectUpsert,
    CloudEvent,
    Address,
    UsageAttribution,
]


def body(model: str, array: bool = False) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON body of ``model`` (by component name)."""
    ref: dict[str, Any] = {"$ref": f"#/components/schemas/{model}"}
    schema = {"type": "array", "items": ref} if array else ref
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def components() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in MODELS:
        schema = m.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
        out.update(schema.pop("$defs", {}))
        out[m.__name__] = schema
    return out
