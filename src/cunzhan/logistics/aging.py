"""Aging: parcels that wait too long at their village station (issue 3 §1).

Per county (:class:`~cunzhan.logistics.models.CountyLogisticsSettings`): a parcel
``at_station`` for at least ``reminder_days`` gets ONE reminder SMS (recorded in
:class:`~cunzhan.logistics.models.ParcelReminder`, never sent twice); at least
``return_days`` it gets a ``return_due`` scan event (id ``aging:return:<parcel id>``,
so a second run is a duplicate), and the next run that visits the station takes it
back up to the county centre (``collected``), which hands it to its carrier
(``returned``). Days waited count from the parcel's arrival (its ``at_station`` event).

:func:`aging_run` does both, then sweeps the station fees
(:func:`cunzhan.logistics.fees.accrue`); ``cunzhan logistics-age`` and the county's
"run aging now" button call it. :func:`overdue_parcels` is the read side.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import fees, selectors, services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import CountyLogisticsSettings, Parcel, ParcelReminder, in_states
from cunzhan.network.models import Level, Region, Station

DAY = dt.timedelta(days=1)
BATCH = 5000


@dataclass(frozen=True)
class Overdue:
    """A parcel that has waited at its station for at least the county's reminder
    days."""

    parcel: Parcel
    days_waited: int
    reminder_sent: bool
    return_due: bool  # waited return_days or more: the next aging run sends it back


@dataclass
class AgingResult:
    counties: list[str] = field(default_factory=list)
    reminders_sent: int = 0
    returns_due: int = 0
    fees: fees.AccrueResult = field(default_factory=fees.AccrueResult)

    def as_dict(self) -> dict[str, Any]:
        return {
            "counties": self.counties,
            "reminders_sent": self.reminders_sent,
            "returns_due": self.returns_due,
            "fees_down": self.fees.down,
            "fees_up": self.fees.up,
            "fees_fen": self.fees.down_fen + self.fees.up_fen,
        }


def _settings_by_county(codes: set[str]) -> dict[str, CountyLogisticsSettings]:
    return {c: selectors.county_settings(county_code=c) for c in codes}


def _waiting(scope: RegionScope, station: Station | None = None) -> Any:
    qs = selectors.parcels_in_scope(scope=scope).filter(in_states(sm.AT_STATION))
    if station is not None:
        qs = qs.filter(station=station)
    return qs.exclude(state_at__isnull=True)


def overdue_parcels(
    *, scope: RegionScope, station: Station | None = None, at: dt.datetime | None = None
) -> list[Overdue]:
    """Parcels in ``scope`` (at ``station`` if given) waiting at their station for
    at least their county's reminder days at time ``at`` (default now), longest
    waiting first, with the whole days waited."""
    at = at or timezone.now()
    waiting = list(
        _waiting(scope, station)
        .filter(state_at__lte=at - DAY)  # every county reminds after >= 1 day
        .select_related("carrier", "station", "village")
        .order_by("state_at", "pk")
    )
    settings = _settings_by_county({p.village_id[:6] for p in waiting})
    reminded = set(
        ParcelReminder.objects.filter(parcel__in=[p.pk for p in waiting]).values_list(
            "parcel_id", flat=True
        )
    )
    out = []
    for p in waiting:
        s = settings[p.village_id[:6]]
        days = (at - p.state_at).days  # type: ignore[operator]
        if days >= s.reminder_days:
            out.append(
                Overdue(
                    parcel=p,
                    days_waited=days,
                    reminder_sent=p.pk in reminded,
                    return_due=days >= s.return_days,
                )
            )
    return out


def _counties(scope: RegionScope, county_code: str | None) -> list[str]:
    if county_code:
        county = Region.objects.filter(code=county_code, level=Level.COUNTY).first()
        if county is None or not scope.contains_code(county.code):
            raise NotFound(f"unknown county {county_code}")
        return [county.code]
    codes = {v[:6] for v in _waiting(scope).values_list("village_id", flat=True).distinct()}
    return sorted(codes)


def aging_run(
    *,
    scope: RegionScope,
    county_code: str | None = None,
    at: dt.datetime | None = None,
    actor: Any = None,
) -> AgingResult:
    """Remind and send back what waited too long in ``county_code`` (or every county
    of the scope), then sweep the station fees. Idempotent: a parcel is reminded once
    and sent back once, whatever how often this runs.

    Run live (no ``at``), each ``return_due`` carries the time it is written: a hand-out
    that happened while the run was going sorts before it, so the parcel stays picked
    up (the late ``return_due`` is reported illegal) instead of being sent back from
    the recipient's hands. With ``at`` (a replay, the simulator) the events carry
    ``at``."""
    live = at is None
    at = at or timezone.now()
    if timezone.is_naive(at):
        raise ApplicationError("at: a time with a time zone", code="invalid_time")
    result = AgingResult()
    for code in _counties(scope, county_code):
        result.counties.append(code)
        returns, reminders = fees.retry_locked(
            functools.partial(_age_county, scope, code, at, actor, live)
        )
        result.returns_due += returns
        result.reminders_sent += reminders
    result.fees = fees.accrue(scope=scope, until=at)
    return result


def _send_back(scope: RegionScope, events: list[dict[str, Any]], actor: Any) -> int:
    try:
        statuses = services.scan_events_record(scope=scope, events=events, actor=actor)
    except ApplicationError as exc:
        if exc.code != "conflict":
            raise
        # another aging run stored some of them at the same moment: sending the same
        # events again reports those as duplicates
        statuses = services.scan_events_record(scope=scope, events=events, actor=actor)
    return sum(1 for x in statuses if x["status"] == services.APPLIED)


def _age_county(
    scope: RegionScope, code: str, at: dt.datetime, actor: Any, live: bool = False
) -> tuple[int, int]:
    """(sent back, reminded) in one county; safe to run again (idempotent)."""
    county_scope = scope.narrowed_to(code)
    s = selectors.county_settings(county_code=code)
    returns = reminders = 0
    # send back: waited return_days or more
    due = list(
        _waiting(county_scope)
        .filter(state_at__lte=at - s.return_days * DAY)
        .select_related("carrier", "station")
        .order_by("pk")
    )
    for i in range(0, len(due), BATCH):
        chunk = due[i : i + BATCH]
        if live:  # only what still waits now (a hand-out may have happened meanwhile)
            still = set(
                _waiting(county_scope)
                .filter(pk__in=[p.pk for p in chunk])
                .values_list("pk", flat=True)
            )
            chunk = [p for p in chunk if p.pk in still]
            if not chunk:
                continue
        when = timezone.now() if live else at
        events = [
            {
                "event_id": f"aging:return:{p.pk}",
                "carrier": p.carrier.code,
                "tracking_number": p.tracking_number,
                "type": sm.RETURN_DUE,
                "occurred_at": when,
                "station_code": p.station.code if p.station else "",
                "device": "aging",
            }
            for p in chunk
        ]
        returns += _send_back(county_scope, events, actor)
    # remind: waited reminder_days or more (and not yet sent back), once
    to_remind = list(
        _waiting(county_scope)
        .filter(state_at__lte=at - s.reminder_days * DAY, reminder__isnull=True)
        .select_related("carrier", "station")
        .order_by("pk")
    )
    for p in to_remind:
        reminders += _remind(p, at)
    return returns, reminders


def _remind(parcel: Parcel, at: dt.datetime) -> int:
    days = (at - parcel.state_at).days  # type: ignore[operator]
    try:
        with transaction.atomic():
            ParcelReminder.objects.create(parcel=parcel, sent_at=at, days_waited=days)
            station = parcel.station.name if parcel.station else "村站"
            services.sms_backend().send(
                phone=parcel.recipient_phone,
                text=(
                    f"【村站】您的{parcel.carrier.code}快递 {parcel.tracking_number} 已在"
                    f"{station}等候{days}天，取件码 {parcel.pickup_code}，请尽快取件，"
                    "逾期将退回。"
                ),
                parcel=parcel,
            )
    except IntegrityError:  # a concurrent run reminded it first
        return 0
    return 1


def counties_in_scope(*, scope: RegionScope) -> list[Region]:
    qs = Region.objects.filter(level=Level.COUNTY, withdrawn_in="")
    if not scope.everything:
        qs = qs.filter(scope.q("code"))
    return list(qs.order_by("code"))
