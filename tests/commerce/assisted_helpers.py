"""Helpers for the assisted-purchase tests: parcels that reach a station through the
logistics services (manifest + scan events), never written directly."""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from cunzhan.core.scope import RegionScope
from cunzhan.logistics import services as logistics_services
from cunzhan.logistics.models import Parcel
from cunzhan.network.models import Station

_seq = itertools.count(1)


def parcel_to_station(
    station: Station, *, tracking_number: str = "", phone: str = "13812345678", name: str = "王芳"
) -> Parcel:
    """A ZTO parcel announced for ``station``'s village and scanned in at the station
    (state ``at_station``, with a pickup code)."""
    national = RegionScope.national()
    tn = tracking_number or f"ZT{next(_seq):08d}"
    logistics_services.manifest_intake(
        scope=national,
        carrier_code="ZTO",
        rows=[
            {
                "tracking_number": tn,
                "recipient_name": name,
                "phone": phone,
                "village_code": station.region_id,
                "weight_g": 900,
                "size_class": "S",
            }
        ],
    )
    t0 = timezone.now() - dt.timedelta(hours=5)
    steps = ["received_at_county", "sorted", "loaded", "at_station"]
    logistics_services.scan_events_record(
        scope=national,
        events=[
            {
                "event_id": f"t-{tn}-{i}",
                "carrier": "ZTO",
                "tracking_number": tn,
                "type": t,
                "occurred_at": t0 + dt.timedelta(hours=i),
                "station_code": station.code if t == "at_station" else "",
            }
            for i, t in enumerate(steps)
        ],
    )
    return Parcel.objects.get(tracking_number=tn)


def hand_out(station: Station, parcel: Parcel) -> None:
    """The villager picks the parcel up with its pickup code (logistics service)."""
    parcel.refresh_from_db()
    logistics_services.parcel_pick_up(
        scope=RegionScope.national(), station=station, code=parcel.pickup_code
    )


def scan(parcel: Parcel, event_type: str, *, station: Station | None = None) -> None:
    """A bulk scan event (the generic ingest, no code, no phone and name)."""
    logistics_services.scan_events_record(
        scope=RegionScope.national(),
        events=[
            {
                "event_id": f"t-{parcel.tracking_number}-{event_type}",
                "carrier": parcel.carrier.code,
                "tracking_number": parcel.tracking_number,
                "type": event_type,
                "occurred_at": timezone.now(),
                "station_code": station.code if station else "",
            }
        ],
    )
