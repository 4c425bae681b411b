"""Helpers shared by the up-and-down tests (shipments, aging, fees, CSV)."""

from __future__ import annotations

import datetime as dt
import json

from cunzhan.core.scope import RegionScope
from cunzhan.logistics import services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel
from tests.factories.handout import hand_out
from tests.logistics.conftest import row

NATIONAL = RegionScope.national()
T0 = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def put(client, url, body):
    return client.put(url, json.dumps(body), content_type="application/json")


def parcel_at_station(station, n: int, at: dt.datetime = T0, **kw) -> Parcel:
    """Parcel ``n`` announced, and arrived at ``station`` at time ``at``."""
    r = row(n, **kw)
    services.manifest_intake(scope=NATIONAL, carrier_code="ZTO", rows=[r])
    steps = [sm.RECEIVED_AT_COUNTY, sm.SORTED, sm.LOADED, sm.AT_STATION]
    services.scan_events_record(
        scope=NATIONAL,
        events=[
            {
                "event_id": f"t-{r['tracking_number']}-{t}",
                "carrier": "ZTO",
                "tracking_number": r["tracking_number"],
                "type": t,
                "occurred_at": at - dt.timedelta(hours=3 - i),
                "station_code": station.code if t == sm.AT_STATION else "",
            }
            for i, t in enumerate(steps)
        ],
    )
    return Parcel.objects.get(tracking_number=r["tracking_number"])


def event(parcel: Parcel, type_: str, at: dt.datetime, station=None) -> str:
    if type_ == sm.PICKED_UP:  # a hand-out needs its proof: the code, at the station
        return hand_out(parcel, at=at, station=station)
    statuses = services.scan_events_record(
        scope=NATIONAL,
        events=[
            {
                "event_id": f"t-{parcel.tracking_number}-{type_}-{at.timestamp():.0f}",
                "carrier": parcel.carrier_id and parcel.carrier.code,
                "tracking_number": parcel.tracking_number,
                "type": type_,
                "occurred_at": at,
                "station_code": station.code if station else "",
            }
        ],
    )
    return statuses[0]["status"]
