"""Station fees: what the network owes a village station for the parcels and shipments
it handles (issue 3 §1; posted by the ledger of issue 4).

- **down**: a parcel earns its station the county's ``fee_down_fen`` when it leaves the
  station's hands — handed out (``picked_up``) or taken back up by a run as a return
  (``collected``, after ``return_due`` or a refusal). A parcel that merely arrived has
  not been handled yet; a parcel earns at most one down fee.
- **up**: a shipment earns its station ``fee_up_fen`` once a run has collected it.

Fees are recorded by an idempotent sweep, :func:`accrue`, not by signals: scan events
are written with ``bulk_create`` (no signals) by services this module does not own.
The sweep finds handled parcels and shipments without a fee and inserts one per
(subject, direction); the unique constraints make a concurrent second sweep a no-op.
It runs with the aging command (``cunzhan logistics-age``), the "run aging now" button
and the simulator. The amount is the county's setting at the time of the sweep.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.db import OperationalError, connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import selectors
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import (
    ExceptionStatus,
    FeeStatus,
    Parcel,
    ParcelException,
    ScanEvent,
    Shipment,
    ShipmentState,
    StationFee,
)
from cunzhan.network.models import Station

T = TypeVar("T")
CHINA = ZoneInfo("Asia/Shanghai")
DOWN_EVENTS = (sm.PICKED_UP, sm.COLLECTED)
MONTH_LEN = 7


def _month(at: dt.datetime) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m")


@dataclass
class AccrueResult:
    down: int = 0
    up: int = 0
    down_fen: int = 0
    up_fen: int = 0


def retry_locked(fn: Callable[[], T]) -> T:
    """Run ``fn`` (idempotent) again on SQLite's "table is locked", which the shared-cache
    memory database of the tests answers at once instead of waiting (a file database
    waits itself)."""
    for attempt in range(1, 201):
        try:
            return fn()
        except OperationalError as exc:
            if connection.vendor != "sqlite" or "locked" not in str(exc) or attempt == 200:
                raise
            time.sleep(0.02)
    raise AssertionError("unreachable")  # pragma: no cover


def accrue(*, scope: RegionScope, until: dt.datetime | None = None) -> AccrueResult:
    """Record a fee for every parcel and shipment in ``scope`` handled at a station up
    to ``until`` (default now) that has none yet. Running it again records nothing."""
    when = until or timezone.now()
    return retry_locked(lambda: _accrue(scope, when))


def _accrue(scope: RegionScope, until: dt.datetime) -> AccrueResult:
    result = AccrueResult()
    rates: dict[str, tuple[int, int]] = {}

    def rate(region_code: str) -> tuple[int, int]:
        county = region_code[:6]
        if county not in rates:
            s = selectors.county_settings(county_code=county)
            rates[county] = (s.fee_down_fen, s.fee_up_fen)
        return rates[county]

    # down: the first picked_up / collected event of each parcel with a station
    handled = (
        ScanEvent.objects.filter(
            type__in=DOWN_EVENTS,
            occurred_at__lte=until,
            parcel__station__isnull=False,
        )
        .filter(scope.q("parcel__village_id"))
        .filter(~Exists(StationFee.objects.filter(parcel=OuterRef("parcel_id"), direction="down")))
        # only events the state machine applied: an illegal one has an exception that is
        # open, or was closed by a person (the event stays unapplied); one closed by the
        # system became legal when earlier events arrived late
        .filter(
            ~Exists(
                ParcelException.objects.filter(
                    event_id=OuterRef("pk"),
                    problem=ParcelException.Problem.ILLEGAL_TRANSITION,
                ).filter(Q(status=ExceptionStatus.OPEN) | Q(resolved_by__isnull=False))
            )
        )
        .order_by("parcel_id", "occurred_at", "event_id")
        .values_list("parcel_id", "occurred_at", "parcel__station_id", "parcel__village_id")
    )
    if not scope.everything and scope.station_ids is not None:
        handled = handled.filter(parcel__station_id__in=list(scope.station_ids))
    fees: list[StationFee] = []
    seen: set[int] = set()
    for parcel_id, at, station_id, village in handled.iterator(chunk_size=2000):
        if parcel_id in seen:
            continue
        seen.add(parcel_id)
        amount = rate(village)[0]
        fees.append(
            StationFee(
                station_id=station_id,
                direction="down",
                parcel_id=parcel_id,
                amount_fen=amount,
                earned_at=at,
                month=_month(at),
            )
        )
        result.down += 1
        result.down_fen += amount
    # up: shipments a run has collected
    shipments = (
        Shipment.objects.filter(
            state__in=[
                ShipmentState.COLLECTED,
                ShipmentState.AT_COUNTY,
                ShipmentState.HANDED_OVER,
            ],
            collected_at__lte=until,
        )
        .filter(scope.q("station__region_id"))
        .filter(~Exists(StationFee.objects.filter(shipment=OuterRef("pk"), direction="up")))
        .values_list("pk", "collected_at", "station_id", "station__region_id")
    )
    if not scope.everything and scope.station_ids is not None:
        shipments = shipments.filter(station_id__in=list(scope.station_ids))
    for shipment_id, collected, station_id, region in shipments.iterator(chunk_size=2000):
        assert collected is not None  # filtered on collected_at <= until
        amount = rate(region)[1]
        fees.append(
            StationFee(
                station_id=station_id,
                direction="up",
                shipment_id=shipment_id,
                amount_fen=amount,
                earned_at=collected,
                month=_month(collected),
            )
        )
        result.up += 1
        result.up_fen += amount
    # a concurrent sweep may have inserted some: the constraints skip those
    StationFee.objects.bulk_create(fees, batch_size=1000, ignore_conflicts=True)
    return result


def fees_in_scope(*, scope: RegionScope) -> QuerySet[StationFee]:
    qs = StationFee.objects.filter(scope.q("station__region_id"))
    if not scope.everything and scope.station_ids is not None:
        qs = qs.filter(station_id__in=list(scope.station_ids))
    return qs


def fee_summary(
    *, scope: RegionScope, station_id: int | None = None, month: str = ""
) -> list[dict[str, Any]]:
    """Amounts per station and month (newest month first): counts and fen, down and
    up, owed and posted."""
    qs = fees_in_scope(scope=scope)
    if station_id is not None:
        qs = qs.filter(station_id=station_id)
    if month:
        try:
            dt.date.fromisoformat(month + "-01")
        except ValueError as exc:
            raise ApplicationError("month: YYYY-MM", code="invalid_filter") from exc
        if len(month) != MONTH_LEN:
            raise ApplicationError("month: YYYY-MM", code="invalid_filter")
        qs = qs.filter(month=month)
    rows = (
        qs.values("station_id", "station__code", "station__name", "month")
        .annotate(
            down_count=Count("pk", filter=Q(direction="down")),
            down_fen=Sum("amount_fen", filter=Q(direction="down"), default=0),
            up_count=Count("pk", filter=Q(direction="up")),
            up_fen=Sum("amount_fen", filter=Q(direction="up"), default=0),
            owed_fen=Sum("amount_fen", filter=Q(status="owed"), default=0),
            posted_fen=Sum("amount_fen", filter=Q(status="posted"), default=0),
        )
        .order_by("-month", "station__code")
    )
    return [
        {
            "station_id": r["station_id"],
            "station_code": r["station__code"],
            "station_name": r["station__name"],
            "month": r["month"],
            "down_count": r["down_count"],
            "down_fen": r["down_fen"],
            "up_count": r["up_count"],
            "up_fen": r["up_fen"],
            "owed_fen": r["owed_fen"],
            "posted_fen": r["posted_fen"],
            "total_fen": r["down_fen"] + r["up_fen"],
        }
        for r in rows
    ]


def fee_position(*, scope: RegionScope, station_id: int) -> dict[str, int]:
    """A station's fees over all time: pending (recorded, owed, not yet posted to the
    ledger) and posted (booked by the ledger's daily sweep), counts and fen."""
    row = (
        fees_in_scope(scope=scope)
        .filter(station_id=station_id)
        .aggregate(
            pending_count=Count("pk", filter=Q(status=FeeStatus.OWED)),
            pending_fen=Sum("amount_fen", filter=Q(status=FeeStatus.OWED), default=0),
            posted_count=Count("pk", filter=Q(status=FeeStatus.POSTED)),
            posted_fen=Sum("amount_fen", filter=Q(status=FeeStatus.POSTED), default=0),
        )
    )
    return {k: int(v or 0) for k, v in row.items()}


def parcels_handled_without_fee(*, scope: RegionScope) -> QuerySet[Parcel]:
    """Handled parcels still without a down fee (what the next sweep will record)."""
    return Parcel.objects.filter(scope.q("village_id"), station__isnull=False).filter(
        Exists(ScanEvent.objects.filter(parcel=OuterRef("pk"), type__in=DOWN_EVENTS)),
        ~Exists(StationFee.objects.filter(parcel=OuterRef("pk"), direction="down")),
    )


def fees_claim_owed(
    *, county_code: str, until: dt.datetime | None = None
) -> list[tuple[int, int, int]]:
    """Mark every owed fee of the county's stations (earned up to ``until`` when given)
    ``posted`` and return them as
    ``(fee id, station id, amount_fen)``, in id order — for the ledger, which books them
    in the same database transaction (if its posting fails, the fees stay owed). One
    ``UPDATE … RETURNING``: the rows are locked and marked in one pass, and a concurrent
    caller waits for them, then finds them no longer owed."""
    if not connection.in_atomic_block:
        raise RuntimeError("fees_claim_owed: call it inside the transaction that books the fees")
    prefix = RegionScope.for_regions([county_code]).q("region_id")
    station_ids = Station.objects.filter(prefix).values_list("pk", flat=True)
    table = StationFee._meta.db_table
    qn = connection.ops.quote_name
    sub, params = station_ids.query.sql_with_params()
    earned = ""
    extra: list[Any] = []
    if until is not None:
        earned = f"AND {qn('earned_at')} <= %s "
        extra = [connection.ops.adapt_datetimefield_value(until)]
    sql = (
        f"UPDATE {qn(table)} SET {qn('status')} = %s "  # noqa: S608 - names are the model's
        f"WHERE {qn('status')} = %s AND {qn('station_id')} IN ({sub}) {earned}"
        f"RETURNING {qn('id')}, {qn('station_id')}, {qn('amount_fen')}"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [FeeStatus.POSTED, FeeStatus.OWED, *params, *extra])
        rows = [(int(a), int(b), int(c)) for a, b, c in cur.fetchall()]
    return sorted(rows)
