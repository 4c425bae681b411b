"""A lot's story as a GS1 EPCIS 2.0 JSON-LD document (public, like the trace page).

Each step of :func:`selectors.lot_story` is one ``ObjectEvent`` about the lot as a
class-level identity (``quantityList`` with ``epcClass`` = the lot's URN and its
quantity), in the style of ``logistics/epcis.py`` (docs/adr/0014-commerce-catalogue.md):

- lot (``epcClass``): ``urn:cunzhan:lot:<trace code>``
- event (``eventID``): ``urn:cunzhan:event:<event id>``
- place (``bizLocation``): ``urn:cunzhan:region:<region code>`` (village or county)

No personal data: the producer appears only as ``cunzhan:producerKind`` (and by name
when it is a cooperative).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cunzhan.commerce.models import Lot, LotEventType, ProducerKind
from cunzhan.commerce.selectors import StoryStep, lot_places, lot_story
from cunzhan.logistics.epcis import CONTEXT, EVENT_URN, EXT_NS, REGION_URN, _offset, _utc, _zone

LOT_URN = "urn:cunzhan:lot:"
# UN/CEFACT unit codes for quantityList.uom (a count has none)
UOM = {"kg": "KGM"}

# step -> (action, CBV 2.0 bizStep, CBV 2.0 disposition)
EXPORT_MAP: dict[str, tuple[str, str, str]] = {
    LotEventType.HARVESTED: ("ADD", "commissioning", "active"),
    LotEventType.GRADED: ("OBSERVE", "inspecting", "conformant"),
    LotEventType.PACKED: ("OBSERVE", "packing", "in_progress"),
    LotEventType.PICKED_UP: ("OBSERVE", "departing", "in_transit"),
    LotEventType.AT_COUNTY: ("OBSERVE", "receiving", "in_progress"),
    LotEventType.HANDED_OVER: ("OBSERVE", "shipping", "in_transit"),
    LotEventType.DELIVERED: ("OBSERVE", "receiving", "in_possession"),
}


def lot_event(step: StoryStep, *, lot: Lot, zone: dt.tzinfo) -> dict[str, Any]:
    action, biz_step, disp = EXPORT_MAP[step.type]
    if step.type == LotEventType.GRADED and step.details.get("rejected"):
        disp = "non_conformant"
    qty: dict[str, Any] = {"epcClass": LOT_URN + lot.code, "quantity": lot.quantity}
    if lot.unit in UOM:
        qty["uom"] = UOM[lot.unit]
    ev: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": EVENT_URN + step.event_id,
        "eventTime": _utc(step.occurred_at),
        "eventTimeZoneOffset": _offset(step.occurred_at, zone),
    }
    if step.recorded_at is not None:
        ev["recordTime"] = _utc(step.recorded_at)
    ev["epcList"] = []
    ev["quantityList"] = [qty]
    ev["action"] = action
    ev["bizStep"] = biz_step
    ev["disposition"] = disp
    if step.region is not None:
        ev["bizLocation"] = {"id": REGION_URN + step.region.code}
    ev["cunzhan:eventType"] = step.type
    if step.type == LotEventType.GRADED and step.details.get("grade"):
        ev["cunzhan:grade"] = step.details["grade"]
    return ev


def lot_document(*, lot: Lot) -> dict[str, Any]:
    zone = _zone()
    places = lot_places(lot=lot)
    header: dict[str, Any] = {
        "cunzhan:lot": LOT_URN + lot.code,
        "cunzhan:product": lot.product.name,
        "cunzhan:village": places["village"],
        "cunzhan:township": places["township"],
        "cunzhan:county": places["county"],
        "cunzhan:producerKind": lot.producer.kind,
    }
    if lot.producer.kind == ProducerKind.COOPERATIVE:
        header["cunzhan:cooperative"] = lot.producer.name
    return {
        "@context": [CONTEXT, {"cunzhan": EXT_NS}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _utc(dt.datetime.now(dt.UTC)),
        **header,
        "epcisBody": {"eventList": [lot_event(s, lot=lot, zone=zone) for s in lot_story(lot=lot)]},
    }
