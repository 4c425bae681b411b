"""A fingerprint of the simulated data: what two runs of the simulator with the same
seed on the same start must agree on (and runs with other seeds must not).

Only content columns take part: no primary keys, uuids or ``created_at`` times (a
fresh database numbers its rows and clocks its inserts its own way); ledger times
are the simulated ones (``occurred_at``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db.models import Model

from cunzhan.commerce.assisted_models import AssistedPurchase
from cunzhan.commerce.models import Lot
from cunzhan.commerce.orders_models import Order
from cunzhan.ledger.models import Line, PayoutBatch, Transaction
from cunzhan.logistics.models import Parcel, ScanEvent, Shipment
from cunzhan.logistics.selectors import HANDOUT_EVENT_PREFIX
from cunzhan.registry.models import Household, IncomeRecord, Person, PovertyRegistration

TABLES: dict[str, tuple[type[Model], tuple[str, ...]]] = {
    "households": (Household, ("village_id", "number", "address")),
    "persons": (
        Person,
        ("household__village_id", "household__number", "name", "birth_year", "relation"),
    ),
    "registrations": (
        PovertyRegistration,
        ("household__village_id", "household__number", "year_registered", "year_exited"),
    ),
    "incomes": (
        IncomeRecord,
        ("household__village_id", "household__number", "year", "source", "amount_fen"),
    ),
    "parcels": (
        Parcel,
        ("carrier__code", "tracking_number", "village_id", "weight_g", "cod_fen", "state"),
    ),
    "scan_events": (ScanEvent, ("event_id", "type", "occurred_at")),
    "shipments": (
        Shipment,
        ("producer_name", "contents", "weight_g", "destination", "state", "outbound_tracking"),
    ),
    "lots": (Lot, ("note", "quantity", "quantity_available", "status", "grade__code")),
    "orders": (Order, ("note", "channel", "state", "total_fen", "paid_fen", "refunded_fen")),
    "assisted": (AssistedPurchase, ("tracking_number", "item", "price_fen", "status")),
    "transactions": (Transaction, ("county_id", "kind", "gross_fen", "occurred_at")),
    "lines": (Line, ("transaction__kind", "account__kind", "amount_fen", "occurred_at")),
    "payouts": (PayoutBatch, ("county_id", "note", "total_fen", "line_count", "status")),
}


def _stable(name: str, row: tuple) -> list[Any]:
    """A row without what is random by design: a hand-out's event id is a fresh UUID
    (``pickup:<hex>``, logistics.services.parcel_pick_up), its time and type are kept."""
    out = list(row)
    if name == "scan_events" and str(out[0]).startswith(HANDOUT_EVENT_PREFIX):
        out[0] = HANDOUT_EVENT_PREFIX
    return out


def data_fingerprint(prefix: str = "") -> dict[str, Any]:
    """``{"digest": sha256, "rows": {table: count}}`` over the simulated tables (rows of
    counties under ``prefix`` where a table has a region; all rows otherwise)."""
    digest = hashlib.sha256()
    rows: dict[str, int] = {}
    for name, (model, columns) in TABLES.items():
        qs = model._default_manager.all()
        if prefix and name in ("households", "parcels"):
            qs = qs.filter(village__code__startswith=prefix)
        values = sorted(
            json.dumps(_stable(name, v), default=str, ensure_ascii=False)
            for v in qs.values_list(*columns)
        )
        rows[name] = len(values)
        digest.update(name.encode())
        for v in values:
            digest.update(v.encode())
    return {"digest": digest.hexdigest(), "rows": rows}
