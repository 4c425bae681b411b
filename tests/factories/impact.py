"""Parcels and their scans for the impact tests, through the logistics services."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from cunzhan.core.scope import RegionScope
from cunzhan.logistics import services as logistics_services

SH = ZoneInfo("Asia/Shanghai")
STEPS = ["received_at_county", "sorted", "loaded", "at_station"]


def local(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=SH)


def deliver(
    tn: str,
    *,
    village: str,
    station_code: str,
    day: dt.date,
    then: str = "",
    then_day: dt.date | None = None,
) -> None:
    """A parcel announced for ``village`` that reaches ``station_code`` on ``day`` (local,
    09:00); ``then``: a later event (picked_up, return_due) on ``then_day``."""
    national = RegionScope.national()
    tn = f"IMP{tn}"
    logistics_services.manifest_intake(
        scope=national,
        carrier_code="ZTO",
        rows=[
            {
                "tracking_number": tn,
                "recipient_name": "收件人",
                "phone": "13900001234",
                "village_code": village,
                "weight_g": 500,
                "size_class": "S",
            }
        ],
    )
    t0 = local(day, 5)
    events = [
        {
            "event_id": f"imp-{tn}-{i}",
            "carrier": "ZTO",
            "tracking_number": tn,
            "type": t,
            "occurred_at": t0 + dt.timedelta(hours=i),
            "station_code": station_code if t == "at_station" else "",
        }
        for i, t in enumerate(STEPS)
    ]
    if then and then != "picked_up":
        events.append(
            {
                "event_id": f"imp-{tn}-then",
                "carrier": "ZTO",
                "tracking_number": tn,
                "type": then,
                "occurred_at": local(then_day or day, 15),
                "station_code": station_code,
            }
        )
    logistics_services.scan_events_record(scope=national, events=events)
    if then == "picked_up":  # a hand-out needs its proof: the code, at the station
        from cunzhan.logistics.models import Parcel
        from tests.factories.handout import hand_out

        hand_out(Parcel.objects.get(tracking_number=tn), at=local(then_day or day, 15))


def builtin_indicators() -> None:
    """The built-in indicators, as the data migrations create them (idempotent): a
    browser test that runs after another transactional test finds every table flushed,
    the migrations' rows included."""
    import importlib

    from django.apps import apps

    for name in (
        "0002_builtin_indicators",
        "0003_jobs_indicator",
        "0004_income_indicators",
        "0005_relapse_risk_data",
        "0006_commerce_indicators",
        "0007_jobs_with_helpers",
    ):
        importlib.import_module(f"cunzhan.impact.migrations.{name}").forwards(apps, None)
