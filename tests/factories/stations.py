"""Stations built through the services, in any status of the life cycle."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cunzhan.network import services
from cunzhan.network.models import KIND_FOR_CODE_LENGTH, Station, StationStatus


def apply_kwargs(region_code: str, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "region_code": region_code,
        "kind": KIND_FOR_CODE_LENGTH[len(region_code)],
        "name": f"服务站 {region_code}",
        "address": "村委会旁",
        "applicant_name": "王小二",
        "applicant_phone": "13800000000",
        "premises_m2": 40,
        "committee_recommendation": True,
        "recommendation_note": "村委会同意",
        "deposit_fen": 200_000,
        "capabilities": ["parcels", "assisted_purchase"],
        "opens_at": dt.time(8, 0),
        "closes_at": dt.time(20, 0),
        "open_days": "1234567",
        "actor": None,
    }
    kwargs.update(overrides)
    return kwargs


def make_station(region_code: str, status: str = StationStatus.PROPOSED, **overrides: Any):
    """A station in ``status`` reached through the legal transitions (system actor).

    ``status="approved"`` gives an under-review station whose application is approved.
    """
    station: Station = services.station_apply(**apply_kwargs(region_code, **overrides))
    if status == StationStatus.PROPOSED:
        return station
    station = services.station_submit_for_review(station=station)
    if status == StationStatus.UNDER_REVIEW:
        return station
    if status == StationStatus.CLOSED:
        return services.station_review(station=station, approve=False, note="不符合条件")
    station = services.station_review(station=station, approve=True, note="同意")
    if status == "approved":
        return station
    station, _op, _pw = services.station_activate(station=station)
    if status == StationStatus.ACTIVE:
        return station
    station = services.station_suspend(station=station)
    assert status == StationStatus.SUSPENDED, status
    return station
