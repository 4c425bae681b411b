"""Hand a parcel out the way a person does: with its pickup code, at its station
(``services.parcel_pick_up``). The generic ingest refuses ``picked_up`` events (ADR 0028)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel
from cunzhan.network.models import Station


def hand_out(parcel: Any, *, at: dt.datetime | None = None, station: Any = None) -> str:
    """``applied`` when the parcel is picked up now, ``illegal`` when the hand-out was
    recorded but the state machine did not apply it (e.g. dated before the arrival),
    ``not_waiting`` when nothing waits under its code."""
    p = Parcel.objects.get(pk=parcel.pk)
    st = Station.objects.get(pk=(station.pk if station is not None else p.station_id))
    if p.state != sm.AT_STATION or not p.pickup_code:
        return "not_waiting"
    try:
        services.parcel_pick_up(
            scope=RegionScope.national(), station=st, code=p.pickup_code, at=at, device="test"
        )
    except ApplicationError:
        return "not_waiting"
    p.refresh_from_db()
    return "applied" if p.state == sm.PICKED_UP else "illegal"
