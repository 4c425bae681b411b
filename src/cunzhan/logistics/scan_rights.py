"""Who may record which scan event (docs/adr/0028-scan-rights-and-pickup-proof.md).

The matrix is checked by the service (``services.scan_events_record``), whatever the
caller: the API, the desks, the runs, EPCIS import, the simulators. It is pure (no
database): the ingest checks a 10,000-event batch in one pass over the parsed events.

``picked_up`` is in nobody's column: a hand-out needs its proof — the pickup code, or
the recipient's phone and name — and goes through ``services.parcel_pick_up``, never
through the generic ingest.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from django.utils.translation import gettext as _

from cunzhan.accounts.roles import Role
from cunzhan.logistics import statemachine as sm

_TYPE = attrgetter("type")
SYSTEM = ""  # no actor: the platform's own sweeps (aging, returns) and the simulators

_COUNTY_CENTRE = frozenset(t for t in sm.EVENT_TYPES if t != sm.PICKED_UP)

# role -> the event types of its own work. A role not listed records nothing.
EVENT_TYPES_BY_ROLE: dict[str, frozenset[str]] = {
    # the county centre: manifests, receiving, sorting, exceptions (damaged, lost,
    # misrouted), returns to the carrier; it may act for a driver (runs) too
    Role.NETWORK_ADMIN: _COUNTY_CENTRE,
    Role.COUNTY_MANAGER: _COUNTY_CENTRE,
    # a driver: loaded at the depot, dropped at the station, returns collected — and
    # only for parcels on his own runs (checked by the service against the plan)
    Role.DRIVER: frozenset({sm.LOADED, sm.AT_STATION, sm.COLLECTED}),
    # a station operator: received at his station, refused by the recipient, sent
    # back, found damaged or misrouted on arrival — only at his own station (scope)
    Role.STATION_OPERATOR: frozenset(
        {sm.AT_STATION, sm.REFUSED, sm.RETURN_DUE, sm.DAMAGED, sm.MISROUTED}
    ),
    Role.REGISTRY_OFFICER: frozenset(),
    Role.AUDITOR: frozenset(),
    SYSTEM: _COUNTY_CENTRE,
}


def actor_role(actor: Any) -> str:
    """The actor's role; ``SYSTEM`` when there is no actor (a sweep, a simulator)."""
    if actor is None or getattr(actor, "pk", None) is None:
        return SYSTEM
    return str(getattr(actor, "role", "") or "")


def allowed_types(actor: Any) -> frozenset[str]:
    return EVENT_TYPES_BY_ROLE.get(actor_role(actor), frozenset())


def refused_events(events: list[Any], actor: Any) -> tuple[list[dict], list[dict]]:
    """The events the actor may not send: (``picked_up`` ones, needing proof; others of
    types outside the actor's work). Each: ``{"row", "event_id", "type", "message"}``,
    rows counted from 1."""
    allowed = allowed_types(actor)
    if set(map(_TYPE, events)) <= allowed:  # the usual case: one set, no per-event work
        return [], []
    proof: list[dict] = []
    other: list[dict] = []
    for i, e in enumerate(events, start=1):
        type_ = e.type
        if type_ in allowed:
            continue
        if type_ == sm.PICKED_UP:
            proof.append(
                {
                    "row": i,
                    "event_id": e.event_id,
                    "type": type_,
                    "message": _(
                        "取件须凭取件码或收件人手机号与姓名在村站交付，不能以扫描事件记录"
                    ),
                }
            )
        else:
            other.append(
                {
                    "row": i,
                    "event_id": e.event_id,
                    "type": type_,
                    "message": _("您的角色不能记录“%(type)s”事件") % {"type": type_},
                }
            )
    return proof, other
