"""Data sources over commerce orders (online sales) and the parcels' scans (on-time
delivery), registered like the built-in ones of :mod:`cunzhan.impact.sources`.

**Online sales (网络销售额)**, in fen: what the producers sold through the network's
channels (storefront, wholesale, marketplaces) and the buyer received. One sale is an
order allocation settled in the ledger at delivery (``OrderAllocation.settled_key``,
``ledger.sale_settle``): its gross (quantity × the line's unit price) less what returns
refunded of it (``OrderAllocation.refunded_fen``, ``ledger.sale_refund``). It is dated
the local day the order was delivered and placed in the village of the lot it came
from. Paid but undelivered, cancelled and refunded-before-delivery orders are not
sales; a later return lowers the sale of its delivery day (``touched()`` sees the
allocation's update). Three sources: all sales; sales of the 832 national poverty
counties (``Region.is_poverty_county`` of the order's county); sales of registered-poor
households (the lot's producer is a household, or a producer linked to a household,
with a ``PovertyRegistration``, exited or not — 建档立卡户 as the income sources count
them; cooperatives' members are not apportioned).

**On-time delivery (准时送达)**: a parcel going down is on time when it reaches its
village station (``at_station`` scan) by the county's standard time after it was
received at the county centre (its first ``received_at_county`` scan): the same local
day when received by the county's daily cut-off (``CountyLogisticsSettings.cutoff``,
07:00 by default: the day's plan takes it), the next day otherwise. The denominator is
every ``at_station`` scan of a parcel with a ``received_at_county`` scan, dated the
``at_station`` day; the numerator, those on time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import F, OuterRef, Subquery, Sum
from django.db.models.functions import TruncDate

from cunzhan.core.scope import RegionScope, prefix_q
from cunzhan.impact.sources import (
    FLOW,
    HOUSEHOLDS,
    Cells,
    CountsFn,
    DataSource,
    HouseholdsFn,
    Members,
    RowsFn,
    TouchedFn,
    _as_date,
    day_bounds,
    parcel_events_in,
    parcel_row,
    register_source,
    tz,
)

# --- commerce: online sales ---------------------------------------------------------------------

ALL = ""
POVERTY_COUNTIES = "poverty_counties"
REGISTERED_POOR = "registered_poor"


def _sales(which: str) -> Any:
    from cunzhan.commerce.orders_models import OrderAllocation

    qs = OrderAllocation.objects.exclude(settled_key="").filter(
        line__order__delivered_at__isnull=False
    )
    if which == POVERTY_COUNTIES:
        qs = qs.filter(line__order__county__is_poverty_county=True)
    elif which == REGISTERED_POOR:
        qs = qs.filter(lot__producer__household__poverty_registration__isnull=False)
    return qs


def _net() -> Any:
    return F("quantity") * F("line__unit_price_fen") - F("refunded_fen")


def _sales_counts(which: str) -> CountsFn:
    def counts(county: str, first: dt.date, last: dt.date) -> Cells:
        lo, hi = day_bounds(first, last)
        qs = (
            _sales(which)
            .filter(prefix_q("lot__village_id", county))
            .filter(line__order__delivered_at__gte=lo, line__order__delivered_at__lt=hi)
            .annotate(day=TruncDate("line__order__delivered_at", tzinfo=tz()))
            .values("lot__village_id", "day")
            .annotate(n=Sum(_net()))
        )
        return {(r["lot__village_id"], _as_date(r["day"])): int(r["n"] or 0) for r in qs}

    return counts


def _sales_households(county: str, first: dt.date, last: dt.date) -> Members:
    lo, hi = day_bounds(first, last)
    qs = (
        _sales(REGISTERED_POOR)
        .filter(prefix_q("lot__village_id", county))
        .filter(line__order__delivered_at__gte=lo, line__order__delivered_at__lt=hi)
        .values_list("lot__village_id", "line__order__delivered_at", "lot__producer__household_id")
    )
    out: Members = {}
    for village, at, hh in qs:
        out.setdefault((village, _as_date(at)), set()).add(hh)
    return out


def _sales_touched(which: str) -> TouchedFn:
    def touched(county: str, since: dt.datetime) -> set[dt.date]:
        qs = _sales(which).filter(prefix_q("lot__village_id", county))
        changed = qs.filter(updated_at__gte=since) | qs.filter(line__order__updated_at__gte=since)
        return {
            _as_date(t) for t in changed.values_list("line__order__delivered_at", flat=True) if t
        }

    return touched


def _sales_rows(which: str) -> RowsFn:
    def rows(scope: RegionScope, region: str, first: dt.date, last: dt.date) -> list[dict]:
        lo, hi = day_bounds(first, last)
        qs = (
            _sales(which)
            .filter(scope.q("lot__village_id"), scope.station_q("lot__station_id"))
            .filter(prefix_q("lot__village_id", region))
            .filter(line__order__delivered_at__gte=lo, line__order__delivered_at__lt=hi)
            .select_related("line__order", "line__product", "lot__village")
            .order_by("line__order__delivered_at", "id")
        )
        # the order number, the product and the lot's trace code; no buyer, no producer
        return [
            {
                "kind": "sale",
                "id": str(a.line.order.uuid),
                "day": _as_date(a.line.order.delivered_at).isoformat(),
                "region_code": a.lot.village_id,
                "region_name": a.lot.village.name,
                "label": a.line.order.number,
                "detail": f"{a.line.product.name} ×{a.quantity} · {a.lot.code}",
                "amount": a.quantity * a.line.unit_price_fen - a.refunded_fen,
            }
            for a in qs
        ]

    return rows


for _which, _label, _doc in (
    (ALL, "网络销售额（分）", "all counties"),
    (POVERTY_COUNTIES, "贫困县网络销售额（分）", "orders of the national poverty counties"),
    (REGISTERED_POOR, "建档立卡户网络销售额（分）", "produce of registered-poor households"),
):
    _households: HouseholdsFn | None = _sales_households if _which == REGISTERED_POOR else None
    register_source(
        DataSource(
            key="commerce.sales_fen" + (f".{_which}" if _which else ""),
            label=_label,
            doc="Online sales in fen: order allocations settled at delivery, less the "
            f"returns refunded of them, on the delivery day ({_doc}).",
            kind=FLOW,
            counts=_sales_counts(_which),
            touched=_sales_touched(_which),
            rows=_sales_rows(_which),
            unit=HOUSEHOLDS if _households else "",
            households=_households,
        )
    )


# --- logistics: on-time delivery to the village station ---------------------------------------


def _arrivals(region: str) -> Any:
    """``at_station`` scans of parcels going down in the region, with the parcel's first
    receipt at the county centre (None: never scanned there, not measured)."""
    from cunzhan.logistics.models import ScanEvent

    received = (
        ScanEvent.objects.filter(parcel=OuterRef("parcel"), type="received_at_county")
        .order_by("occurred_at")
        .values("occurred_at")[:1]
    )
    return (
        ScanEvent.objects.filter(type="at_station", parcel__direction="down")
        .filter(prefix_q("parcel__village_id", region))
        .annotate(received=Subquery(received))
        .filter(received__isnull=False)
    )


def _due(received: dt.datetime, cutoff: dt.time) -> dt.date:
    """The last local day a parcel received at ``received`` reaches its station on time."""
    local = received.astimezone(tz())
    return local.date() if local.time() <= cutoff else local.date() + dt.timedelta(days=1)


def _cutoff(county: str) -> dt.time:
    from cunzhan.logistics.selectors import county_settings

    cutoff = county_settings(county_code=county).cutoff
    return cutoff if isinstance(cutoff, dt.time) else dt.time.fromisoformat(str(cutoff))


def _on_time_counts(on_time_only: bool) -> CountsFn:
    def counts(county: str, first: dt.date, last: dt.date) -> Cells:
        lo, hi = day_bounds(first, last)
        cutoff = _cutoff(county)
        qs = _arrivals(county).filter(occurred_at__gte=lo, occurred_at__lt=hi)
        out: Cells = {}
        for village, at, received in qs.values_list(
            "parcel__village_id", "occurred_at", "received"
        ):
            day = _as_date(at)
            if on_time_only and day > _due(_aware(received), cutoff):
                continue
            out[(village, day)] = out.get((village, day), 0) + 1
        return out

    return counts


def _aware(value: Any) -> dt.datetime:
    # a Subquery's datetime comes back as a string on SQLite
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def _on_time_touched(county: str, since: dt.datetime) -> set[dt.date]:
    from cunzhan.logistics.models import ScanEvent

    # a late at_station scan, or a late receipt that changes an arrival's due day
    late = ScanEvent.objects.filter(
        prefix_q("parcel__village_id", county),
        parcel__direction="down",
        type__in=("at_station", "received_at_county"),
        recorded_at__gte=since,
    ).values("parcel_id")
    qs = ScanEvent.objects.filter(type="at_station", parcel_id__in=late)
    return {_as_date(t) for t in qs.values_list("occurred_at", flat=True).distinct()}


def _on_time_rows(on_time_only: bool) -> RowsFn:
    def rows(scope: RegionScope, region: str, first: dt.date, last: dt.date) -> list[dict]:
        qs = parcel_events_in(_arrivals(region), scope, region, first, last)
        out = []
        cutoffs: dict[str, dt.time] = {}
        for e in qs:
            county = e.parcel.village_id[:6]
            if county not in cutoffs:
                cutoffs[county] = _cutoff(county)
            due = _due(_aware(e.received), cutoffs[county])
            day = _as_date(e.occurred_at)
            if on_time_only and day > due:
                continue
            out.append(
                parcel_row(
                    e,
                    day,
                    f"{_as_date(_aware(e.received)).isoformat()} → {day.isoformat()}"
                    + (" ✓" if day <= due else " ✗"),
                )
            )
        return out

    return rows


for _only, _key, _label, _doc in (
    (
        True,
        "logistics.parcels_on_time",
        "准时到站的包裹",
        "Parcels going down that reached their village station by the county's standard "
        "time after receipt at the county centre (same day if received by the cut-off, "
        "else the next day).",
    ),
    (
        False,
        "logistics.parcels_arrived_measured",
        "到站包裹（有县级中心收货记录）",
        "Parcels going down that reached their village station that day and were scanned "
        "in at the county centre before (the on-time rate's denominator).",
    ),
):
    register_source(
        DataSource(
            key=_key,
            label=_label,
            doc=_doc,
            kind=FLOW,
            counts=_on_time_counts(_only),
            touched=_on_time_touched,
            rows=_on_time_rows(_only),
        )
    )
