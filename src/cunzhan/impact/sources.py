"""The registry of DATA SOURCES that indicators are built from.

A data source is a named, documented function over a domain's data that returns
counts per (region code, local day) for one county: ``counts(county, first, last)``.

- ``flow`` sources count events in a day (parcels that reached a station that day);
  a period's number is the sum over its days. ``touched(county, since)`` gives the days
  whose counts may have changed since a moment (late events), for the incremental
  refresh.
- ``stock`` sources are a snapshot of the state now (active stations, registered-poor
  households): the refresh stores them for the periods that contain today, and past
  periods keep the snapshot taken while they were current.

``rows(scope, region_code, first, last)`` returns the rows that make a number (the
drill-down), inside the caller's scope; their count equals the source's number.

A source whose rows are households or rest on households (registered-poor households,
their incomes, exits, sales of their produce) declares ``unit = HOUSEHOLDS`` and
``households(county, first, last)``: the household ids behind each (region, day). The
refresh stores, per cell, how many distinct households it rests on; the public page
suppresses cells resting on fewer than 5 (docs/adr/0020-public-page-and-commerce-indicators.md).

Later domains (orders, ledger ...) register their own sources with
:func:`register_source` from their ``AppConfig.ready()`` or here; an indicator naming a
source that is not registered is refused (``unknown_data_source``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope, prefix_q

Cells = dict[tuple[str, dt.date], int]
CountsFn = Callable[[str, dt.date, dt.date], Cells]
TouchedFn = Callable[[str, dt.datetime], set[dt.date]]
RowsFn = Callable[[RegionScope, str, dt.date, dt.date], list[dict[str, Any]]]
Members = dict[tuple[str, dt.date], set[int]]
HouseholdsFn = Callable[[str, dt.date, dt.date], Members]

FLOW = "flow"
STOCK = "stock"
HOUSEHOLDS = "households"


@dataclass(frozen=True)
class DataSource:
    key: str
    label: str  # zh-Hans
    doc: str
    kind: str  # FLOW or STOCK
    counts: CountsFn
    rows: RowsFn
    touched: TouchedFn | None = None
    # "households": the number rests on households (``households()`` gives their ids)
    unit: str = ""
    households: HouseholdsFn | None = None


_SOURCES: dict[str, DataSource] = {}


def register_source(source: DataSource) -> DataSource:
    if source.kind not in (FLOW, STOCK):
        raise ValueError(f"{source.key}: kind must be flow or stock")
    if source.kind == FLOW and source.touched is None:
        raise ValueError(f"{source.key}: a flow source needs touched()")
    if (source.unit == HOUSEHOLDS) != (source.households is not None):
        raise ValueError(f"{source.key}: unit 'households' goes with households()")
    _SOURCES[source.key] = source
    return source


def source_get(key: str) -> DataSource:
    try:
        return _SOURCES[key]
    except KeyError:
        raise ApplicationError(
            f"unknown data source {key!r}; registered: {', '.join(sorted(_SOURCES))}",
            code="unknown_data_source",
            details={"source": key},
        ) from None


def sources_all() -> list[DataSource]:
    return [_SOURCES[k] for k in sorted(_SOURCES)]


# --- local days ---------------------------------------------------------------------------


def tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[first 00:00, last+1 00:00) in local time, as aware datetimes."""
    z = tz()
    lo = dt.datetime.combine(first, dt.time(), tzinfo=z)
    hi = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=z)
    return lo, hi


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.astimezone(tz()).date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value


# --- logistics: scan events ------------------------------------------------------------------


def _scan_events(event_type: str) -> Any:
    from cunzhan.logistics.models import ScanEvent

    return ScanEvent.objects.filter(type=event_type, parcel__direction="down")


def _scan_counts(event_type: str) -> CountsFn:
    def counts(county: str, first: dt.date, last: dt.date) -> Cells:
        lo, hi = day_bounds(first, last)
        qs = (
            _scan_events(event_type)
            .filter(prefix_q("parcel__village_id", county), occurred_at__gte=lo, occurred_at__lt=hi)
            .annotate(day=TruncDate("occurred_at", tzinfo=tz()))
            .values("parcel__village_id", "day")
            .annotate(n=Count("id"))
        )
        return {(r["parcel__village_id"], _as_date(r["day"])): r["n"] for r in qs}

    return counts


def _scan_touched(event_type: str) -> TouchedFn:
    def touched(county: str, since: dt.datetime) -> set[dt.date]:
        qs = _scan_events(event_type).filter(
            prefix_q("parcel__village_id", county), recorded_at__gte=since
        )
        return {_as_date(t) for t in qs.values_list("occurred_at", flat=True).distinct()}

    return touched


def parcel_events_in(
    events: Any, scope: RegionScope, region: str, first: dt.date, last: dt.date
) -> Any:
    """The drill-down of a parcel source: ``events`` (scan events) of the parcels in
    ``scope`` and under ``region``, on the days ``first``..``last``, in time order."""
    from cunzhan.logistics.selectors import parcels_in_scope

    lo, hi = day_bounds(first, last)
    parcels = parcels_in_scope(scope=scope).filter(prefix_q("village_id", region))
    return (
        events.filter(parcel__in=parcels, occurred_at__gte=lo, occurred_at__lt=hi)
        .select_related("parcel__carrier", "parcel__village", "station")
        .order_by("occurred_at", "event_id")
    )


def parcel_row(e: Any, day: dt.date, detail: str) -> dict:
    """One drill-down row for the parcel of scan event ``e``."""
    return {
        "kind": "parcel",
        "id": str(e.parcel.uuid),
        "day": day.isoformat(),
        "region_code": e.parcel.village_id,
        "region_name": e.parcel.village.name,
        "label": f"{e.parcel.carrier.code} {e.parcel.tracking_number}",
        "detail": detail,
        "amount": 1,
    }


def _scan_rows(event_type: str) -> RowsFn:
    def rows(scope: RegionScope, region: str, first: dt.date, last: dt.date) -> list[dict]:
        qs = parcel_events_in(_scan_events(event_type), scope, region, first, last)
        return [
            parcel_row(
                e, e.occurred_at.astimezone(tz()).date(), e.station.code if e.station else ""
            )
            for e in qs
        ]

    return rows


for _key, _type, _label, _doc in (
    (
        "logistics.parcels_down",
        "at_station",
        "到达村站的包裹",
        "Parcels going down that reached a village station that day (at_station scans).",
    ),
    (
        "logistics.parcels_picked_up",
        "picked_up",
        "已取件的包裹",
        "Parcels handed out to their recipient that day (picked_up scans).",
    ),
    (
        "logistics.parcels_unclaimed",
        "return_due",
        "滞留退回的包裹",
        "Parcels due back to the carrier that day: unclaimed after aging, or sent back "
        "(return_due scans).",
    ),
):
    register_source(
        DataSource(
            key=_key,
            label=_label,
            doc=_doc,
            kind=FLOW,
            counts=_scan_counts(_type),
            touched=_scan_touched(_type),
            rows=_scan_rows(_type),
        )
    )


# --- logistics: upward shipments ----------------------------------------------------------------


def _shipments_counts(county: str, first: dt.date, last: dt.date) -> Cells:
    from cunzhan.logistics.models import Shipment

    lo, hi = day_bounds(first, last)
    qs = (
        Shipment.objects.filter(
            prefix_q("station__region_id", county), collected_at__gte=lo, collected_at__lt=hi
        )
        .annotate(day=TruncDate("collected_at", tzinfo=tz()))
        .values("station__region_id", "day")
        .annotate(n=Count("id"))
    )
    return {(r["station__region_id"], _as_date(r["day"])): r["n"] for r in qs}


def _shipments_touched(county: str, since: dt.datetime) -> set[dt.date]:
    from cunzhan.logistics.models import Shipment

    qs = Shipment.objects.filter(
        prefix_q("station__region_id", county), updated_at__gte=since, collected_at__isnull=False
    )
    return {_as_date(t) for t in qs.values_list("collected_at", flat=True)}


def _shipments_rows(scope: RegionScope, region: str, first: dt.date, last: dt.date) -> list[dict]:
    from cunzhan.logistics.models import Shipment

    lo, hi = day_bounds(first, last)
    qs = (
        Shipment.objects.filter(scope.q("station__region_id"), scope.station_q("station_id"))
        .filter(prefix_q("station__region_id", region), collected_at__gte=lo, collected_at__lt=hi)
        .select_related("station__region")
        .order_by("collected_at", "id")
    )
    return [
        {
            "kind": "shipment",
            "id": str(s.uuid),
            "day": _as_date(s.collected_at).isoformat(),
            "region_code": s.station.region_id,
            "region_name": s.station.region.name,
            "label": f"{s.contents} ×{s.pieces}",
            "detail": s.station.code,
            "amount": 1,
        }
        for s in qs
    ]


register_source(
    DataSource(
        key="logistics.shipments_up",
        label="上行寄件",
        doc="Upward shipments (farm products) collected from a station that day.",
        kind=FLOW,
        counts=_shipments_counts,
        touched=_shipments_touched,
        rows=_shipments_rows,
    )
)


# --- network: active stations (stock) -------------------------------------------------------------


def _stations(kind: str) -> Any:
    from cunzhan.network.models import Station

    return Station.objects.filter(kind=kind, status="active")


def _stations_counts(kind: str) -> CountsFn:
    def counts(county: str, first: dt.date, last: dt.date) -> Cells:
        qs = (
            _stations(kind)
            .filter(prefix_q("region_id", county))
            .values("region_id")
            .annotate(n=Count("id"))
        )
        return {(r["region_id"], last): r["n"] for r in qs}

    return counts


def _stations_rows(kind: str) -> RowsFn:
    def rows(scope: RegionScope, region: str, first: dt.date, last: dt.date) -> list[dict]:
        from cunzhan.network.selectors import station_list

        qs = (
            station_list(scope=scope)
            .filter(kind=kind, status="active")
            .filter(prefix_q("region_id", region))
            .select_related("region")
        )
        return [
            {
                "kind": "station",
                "id": str(s.pk),
                "day": "",
                "region_code": s.region_id,
                "region_name": s.region.name,
                "label": s.name,
                "detail": s.code,
                "amount": 1,
            }
            for s in qs
        ]

    return rows


for _kind, _label in (
    ("village_station", "运营中的村级服务站"),
    ("township_depot", "运营中的乡镇服务站"),
    ("county_centre", "运营中的县级服务中心"),
):
    register_source(
        DataSource(
            key=f"network.stations_active.{_kind}",
            label=_label,
            doc=f"Stations of kind {_kind} in the active status (a snapshot).",
            kind=STOCK,
            counts=_stations_counts(_kind),
            rows=_stations_rows(_kind),
        )
    )


# --- registry: registered-poor households (stock) ------------------------------------------------


def _poor_counts(county: str, first: dt.date, last: dt.date) -> Cells:
    from cunzhan.registry.models import PovertyRegistration

    qs = (
        PovertyRegistration.objects.filter(
            prefix_q("household__village_id", county), year_exited__isnull=True
        )
        .values("household__village_id")
        .annotate(n=Count("id"))
    )
    return {(r["household__village_id"], last): r["n"] for r in qs}


def _poor_rows(scope: RegionScope, region: str, first: dt.date, last: dt.date) -> list[dict]:
    from cunzhan.registry.selectors import household_list

    qs = (
        household_list(scope=scope)
        .filter(prefix_q("village_id", region))
        .filter(poverty_registration__isnull=False, poverty_registration__year_exited__isnull=True)
        .select_related("village")
        .order_by("village_id", "number")
    )
    # no names, no ID numbers: the household number and its village only
    return [
        {
            "kind": "household",
            "id": str(h.uuid),
            "day": "",
            "region_code": h.village_id,
            "region_name": h.village.name,
            "label": h.number,
            "detail": "",
            "amount": 1,
        }
        for h in qs
    ]


def _poor_households(county: str, first: dt.date, last: dt.date) -> Members:
    from cunzhan.registry.models import PovertyRegistration

    qs = PovertyRegistration.objects.filter(
        prefix_q("household__village_id", county), year_exited__isnull=True
    ).values_list("household__village_id", "household_id")
    out: Members = {}
    for village, hh in qs:
        out.setdefault((village, last), set()).add(hh)
    return out


register_source(
    DataSource(
        key="registry.households_registered_poor",
        label="建档立卡户（未脱贫）",
        doc="Households with a poverty registration and no exit year (a snapshot).",
        kind=STOCK,
        counts=_poor_counts,
        rows=_poor_rows,
        unit=HOUSEHOLDS,
        households=_poor_households,
    )
)


# --- registry: households exited from poverty (flow, per year) ----------------------------------


def _exits() -> Any:
    from cunzhan.registry.models import PovertyRegistration

    return PovertyRegistration.objects.filter(year_exited__isnull=False)


def _exited_counts(county: str, first: dt.date, last: dt.date) -> Cells:
    """Households that exited poverty in a year, dated 1 January of that year."""
    qs = (
        _exits()
        .filter(prefix_q("household__village_id", county))
        .filter(year_exited__gte=first.year, year_exited__lte=last.year)
        .values("household__village_id", "year_exited")
        .annotate(n=Count("id"))
        .values_list("household__village_id", "year_exited", "n")
    )
    return _cells_by_year(qs, first, last)


def _cells_by_year(rows: Any, first: dt.date, last: dt.date) -> Cells:
    """(village, year, amount) rows -> cells dated 1 January of the year, between
    ``first`` and ``last``."""
    out: Cells = {}
    for village, year, n in rows:
        day = dt.date(year, 1, 1)
        if first <= day <= last:
            out[(village, day)] = n or 0
    return out


def _exited_households(county: str, first: dt.date, last: dt.date) -> Members:
    qs = (
        _exits()
        .filter(prefix_q("household__village_id", county))
        .filter(year_exited__gte=first.year, year_exited__lte=last.year)
        .values_list("household__village_id", "year_exited", "household_id")
    )
    return _members_by_year(qs, first, last)


def _members_by_year(rows: Any, first: dt.date, last: dt.date) -> Members:
    """(village, year, household) rows -> the households of each (village, 1 January of
    the year) cell between ``first`` and ``last``."""
    out: Members = {}
    for village, year, hh in rows:
        day = dt.date(year, 1, 1)
        if first <= day <= last:
            out.setdefault((village, day), set()).add(hh)
    return out


def _exited_touched(county: str, since: dt.datetime) -> set[dt.date]:
    from cunzhan.registry.models import PovertyRegistration

    # an exit year set or changed since: its (new) year is recomputed; the year it left
    # (a corrected or cleared exit) is not known any more: refresh with --since
    qs = PovertyRegistration.objects.filter(
        prefix_q("household__village_id", county), updated_at__gte=since
    )
    years = {y for y in qs.values_list("year_exited", flat=True) if y}
    return {dt.date(y, 1, 1) for y in years}


def _exited_rows(scope: RegionScope, region: str, first: dt.date, last: dt.date) -> list[dict]:
    qs = (
        _exits()
        .filter(scope.q("household__village_id"), prefix_q("household__village_id", region))
        .filter(year_exited__gte=first.year, year_exited__lte=last.year)
        .select_related("household__village")
        .order_by("household__village_id", "household__number")
    )
    return [
        {
            "kind": "household",
            "id": str(r.household.uuid),
            "day": dt.date(r.year_exited, 1, 1).isoformat(),
            "region_code": r.household.village_id,
            "region_name": r.household.village.name,
            "label": r.household.number,
            "detail": f"{r.year_registered}–{r.year_exited}",
            "amount": 1,
        }
        for r in qs
        if r.year_exited is not None and first <= dt.date(r.year_exited, 1, 1) <= last
    ]


register_source(
    DataSource(
        key="registry.households_exited",
        label="脱贫户",
        doc="Registered households whose poverty registration records an exit in the "
        "year; dated 1 January of the exit year.",
        kind=FLOW,
        counts=_exited_counts,
        touched=_exited_touched,
        rows=_exited_rows,
        unit=HOUSEHOLDS,
        households=_exited_households,
    )
)


# --- accounts: jobs in the network (stock) --------------------------------------------------------

JOB_ROLES = ("station_operator", "driver")


def _assignments(roles: tuple[str, ...]) -> Any:
    from cunzhan.accounts.models import Assignment

    return Assignment.objects.filter(user__role__in=roles, user__is_active=True)


def _assignment_region(a: Any) -> str:
    return a["station__region_id"] or a["region_id"]


def _jobs_counts(roles: tuple[str, ...]) -> CountsFn:
    def counts(county: str, first: dt.date, last: dt.date) -> Cells:
        qs = _assignments(roles).filter(
            prefix_q("station__region_id", county) | prefix_q("region_id", county)
        )
        people: dict[str, set[int]] = {}
        for a in qs.values("user_id", "station__region_id", "region_id"):
            people.setdefault(_assignment_region(a), set()).add(a["user_id"])
        return {(code, last): len(users) for code, users in people.items()}

    return counts


def _jobs_rows(roles: tuple[str, ...]) -> RowsFn:
    def rows(scope: RegionScope, region: str, first: dt.date, last: dt.date) -> list[dict]:
        from cunzhan.network.models import Region

        qs = (
            _assignments(roles)
            .filter(scope.q("station__region_id") | scope.q("region_id"))
            .filter(prefix_q("station__region_id", region) | prefix_q("region_id", region))
            .values("user_id", "user__role", "station__code", "station__region_id", "region_id")
            .order_by("station__region_id", "region_id", "user_id")
        )
        seen: set[tuple[str, int]] = set()
        out = []
        names: dict[str, str] = {}
        for a in qs:
            code = _assignment_region(a)
            if (code, a["user_id"]) in seen:
                continue
            seen.add((code, a["user_id"]))
            names.setdefault(code, "")
            # no names: the role and where the job is
            out.append(
                {
                    "kind": "job",
                    "id": str(a["user_id"]),
                    "day": "",
                    "region_code": code,
                    "region_name": "",
                    "label": a["user__role"],
                    "detail": a["station__code"] or "",
                    "amount": 1,
                }
            )
        found = dict(Region.objects.filter(code__in=list(names)).values_list("code", "name"))
        for r in out:
            r["region_name"] = found.get(r["region_code"], "")
        return out

    return rows


for _roles, _key, _label in (
    (JOB_ROLES, "accounts.jobs", "网络中的工作岗位（站长、司机）"),
    (("station_operator",), "accounts.jobs.station_operator", "村站站长"),
    (("driver",), "accounts.jobs.driver", "司机"),
):
    register_source(
        DataSource(
            key=_key,
            label=_label,
            doc=f"Active users with the role(s) {', '.join(_roles)}, counted once per "
            "place they are assigned to (a snapshot).",
            kind=STOCK,
            counts=_jobs_counts(_roles),
            rows=_jobs_rows(_roles),
        )
    )


# --- network: helpers at the stations (淘帮手, stock) ------------------------------------------


def _helpers_active(day: dt.date) -> Any:
    from django.db.models import Q

    from cunzhan.network.models import StationHelper

    return StationHelper.objects.filter(started_on__lte=day).filter(
        Q(ended_on__isnull=True) | Q(ended_on__gt=day)
    )


def _helpers_counts(county: str, first: dt.date, last: dt.date) -> Cells:
    qs = (
        _helpers_active(last)
        .filter(prefix_q("station__region_id", county))
        .values("station__region_id")
        .annotate(n=Count("id"))
    )
    return {(r["station__region_id"], last): r["n"] for r in qs}


def _helpers_rows(scope: RegionScope, region: str, first: dt.date, last: dt.date) -> list[dict]:
    from cunzhan.network.selectors import station_list

    stations = station_list(scope=scope).filter(prefix_q("region_id", region))
    qs = (
        _helpers_active(last)
        .filter(station__in=stations)
        .values("id", "station__code", "station__region_id", "station__region__name")
        .order_by("station__region_id", "station__code", "id")
    )
    # no names, no phones: "helper" and the station where the job is
    return [
        {
            "kind": "job",
            "id": f"helper-{h['id']}",
            "day": "",
            "region_code": h["station__region_id"],
            "region_name": h["station__region__name"],
            "label": "helper",
            "detail": h["station__code"],
            "amount": 1,
        }
        for h in qs
    ]


register_source(
    DataSource(
        key="network.station_helpers",
        label="淘帮手",
        doc="Helpers (淘帮手) recorded at a station, started on or before the day and not "
        "ended by it, counted in the station's region (a snapshot).",
        kind=STOCK,
        counts=_helpers_counts,
        rows=_helpers_rows,
    )
)


# --- impact: every job in the network (operators, drivers, helpers; stock) ----------------------

JOBS_ALL_PARTS = ("accounts.jobs", "network.station_helpers")


def _jobs_all_counts(county: str, first: dt.date, last: dt.date) -> Cells:
    out: Cells = {}
    for key in JOBS_ALL_PARTS:
        for cell, n in _SOURCES[key].counts(county, first, last).items():
            out[cell] = out.get(cell, 0) + n
    return out


def _jobs_all_rows(scope: RegionScope, region: str, first: dt.date, last: dt.date) -> list[dict]:
    return [r for key in JOBS_ALL_PARTS for r in _SOURCES[key].rows(scope, region, first, last)]


register_source(
    DataSource(
        key="impact.jobs_all",
        label="就业岗位（站长、淘帮手、司机）",
        doc="The sum of accounts.jobs (station operators and drivers) and "
        "network.station_helpers (helpers); the drill-down is the union of their rows.",
        kind=STOCK,
        counts=_jobs_all_counts,
        rows=_jobs_all_rows,
    )
)


# --- registry: income of registered-poor households (flow, per year) ------------------------------


def _incomes(source: str) -> Any:
    from cunzhan.registry.models import IncomeRecord

    qs = IncomeRecord.objects.filter(household__poverty_registration__isnull=False)
    return qs.filter(source=source) if source else qs


def _income_counts(source: str) -> CountsFn:
    """Amounts in fen, dated on 1 January of the income's year."""

    def counts(county: str, first: dt.date, last: dt.date) -> Cells:
        qs = (
            _incomes(source)
            .filter(prefix_q("household__village_id", county))
            .filter(year__gte=first.year, year__lte=last.year)
            .values("household__village_id", "year")
            .annotate(n=Sum("amount_fen"))
            .values_list("household__village_id", "year", "n")
        )
        return _cells_by_year(qs, first, last)

    return counts


def _income_touched(source: str) -> TouchedFn:
    def touched(county: str, since: dt.datetime) -> set[dt.date]:
        qs = _incomes(source).filter(
            prefix_q("household__village_id", county), updated_at__gte=since
        )
        return {dt.date(y, 1, 1) for y in qs.values_list("year", flat=True).distinct()}

    return touched


def _income_rows(source: str) -> RowsFn:
    def rows(scope: RegionScope, region: str, first: dt.date, last: dt.date) -> list[dict]:
        qs = (
            _incomes(source)
            .filter(scope.q("household__village_id"), prefix_q("household__village_id", region))
            .filter(year__gte=first.year, year__lte=last.year)
            .select_related("household__village")
            .order_by("household__village_id", "household__number", "source")
        )
        # the household number, the source and the amount; no names
        return [
            {
                "kind": "income",
                "id": str(r.household.uuid),
                "day": dt.date(r.year, 1, 1).isoformat(),
                "region_code": r.household.village_id,
                "region_name": r.household.village.name,
                "label": r.household.number,
                "detail": r.source,
                "amount": r.amount_fen,
            }
            for r in qs
            if first <= dt.date(r.year, 1, 1) <= last
        ]

    return rows


def _income_households(source: str) -> HouseholdsFn:
    def households(county: str, first: dt.date, last: dt.date) -> Members:
        qs = (
            _incomes(source)
            .filter(prefix_q("household__village_id", county))
            .filter(year__gte=first.year, year__lte=last.year)
            .values_list("household__village_id", "year", "household_id")
        )
        return _members_by_year(qs, first, last)

    return households


for _src, _label in (
    ("", "建档立卡户收入（分）"),
    ("farming", "建档立卡户种养殖收入（分）"),
    ("wages", "建档立卡户工资性收入（分）"),
    ("business_ecommerce", "建档立卡户经营及电商收入（分）"),
    ("transfers", "建档立卡户转移性收入（分）"),
):
    register_source(
        DataSource(
            key="registry.income_fen" + (f".{_src}" if _src else ""),
            label=_label,
            doc="Yearly income of registered (建档立卡) households in fen"
            + (f", source {_src}" if _src else ", all sources")
            + "; dated 1 January of the year.",
            kind=FLOW,
            counts=_income_counts(_src),
            touched=_income_touched(_src),
            rows=_income_rows(_src),
            unit=HOUSEHOLDS,
            households=_income_households(_src),
        )
    )


# --- impact: counties over a threshold (computed from stored cells, not from a domain) ------------


def _nothing(county: str, first: dt.date, last: dt.date) -> Cells:
    return {}


def _untouched(county: str, since: dt.datetime) -> set[dt.date]:
    return set()


def _no_rows(scope: RegionScope, region: str, first: dt.date, last: dt.date) -> list[dict]:
    return []


COUNTIES_OVER = "impact.counties_over"

register_source(
    DataSource(
        key=COUNTIES_OVER,
        label="达到门槛的县",
        doc="The numerator of a count_over indicator: the county cells of its base "
        "indicator whose value reaches its threshold, counted by the refresh after the "
        "base's county cells (services._recompute_count_over); the drill-down lists the "
        "counties (selectors.drilldown).",
        kind=FLOW,
        counts=_nothing,
        touched=_untouched,
        rows=_no_rows,
    )
)
