"""The parcel state machine: ONE pure function from a parcel's scan events to its state.

Events are sorted by ``(occurred_at, event_id)``, the ``announced`` event first, and
duplicates (same ``event_id``) are applied once, so any order of arrival and any
repetition give the same result. An
event that is not legal in the state reached so far is not applied: it is reported as
an :class:`Illegal` for a person to resolve (never a crash, never silently dropped).
See docs/adr/0009-parcel-state-from-events.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

# event types (what a scan says happened)
ANNOUNCED = "announced"
RECEIVED_AT_COUNTY = "received_at_county"
SORTED = "sorted"
LOADED = "loaded"
AT_STATION = "at_station"
PICKED_UP = "picked_up"
RETURNED = "returned"
REFUSED = "refused"
DAMAGED = "damaged"
LOST = "lost"
MISROUTED = "misrouted"
RETURN_DUE = "return_due"  # to go back to the carrier: waited too long, or sent back
COLLECTED = "collected"  # taken back up from the station by a run (returns)

EVENT_TYPES = (
    ANNOUNCED,
    RECEIVED_AT_COUNTY,
    SORTED,
    LOADED,
    AT_STATION,
    PICKED_UP,
    RETURNED,
    REFUSED,
    DAMAGED,
    LOST,
    MISROUTED,
    RETURN_DUE,
    COLLECTED,
)

# states (a misrouted parcel goes back to ``sorted``: it is re-sorted)
NONE = ""  # no event applied yet
STATES = tuple(t for t in EVENT_TYPES if t != MISROUTED)
TERMINAL = frozenset({PICKED_UP, RETURNED, LOST})

_IN_NETWORK = (RECEIVED_AT_COUNTY, SORTED, LOADED, AT_STATION, RETURN_DUE, COLLECTED)

# Coarse stages of a parcel's life, for the indexes only: the parcel table's state
# indexes lead with the station or village and then the STAGE, not the state, so a state
# change within a stage (received -> sorted -> loaded) changes no indexed column and
# PostgreSQL rewrites no index (a HOT update; docs/adr/0010-event-ingest.md).
INBOUND = 1  # announced to the county, on its way down to the station
WAITING = 2  # at the station, waiting to be picked up
RETURNING = 3  # on its way back to the carrier
DONE = 4  # picked up, returned to the carrier, lost
STAGE_OF: dict[str, int] = {
    NONE: INBOUND,
    ANNOUNCED: INBOUND,
    RECEIVED_AT_COUNTY: INBOUND,
    SORTED: INBOUND,
    LOADED: INBOUND,
    AT_STATION: WAITING,
    RETURN_DUE: RETURNING,
    REFUSED: RETURNING,
    DAMAGED: RETURNING,
    COLLECTED: RETURNING,
    PICKED_UP: DONE,
    RETURNED: DONE,
    LOST: DONE,
}


def stages(*states: str) -> list[int]:
    """The stages of ``states`` (for a filter the indexes can use)."""
    return sorted({STAGE_OF[s] for s in states})


# state -> {event type -> next state}
TRANSITIONS: dict[str, dict[str, str]] = {
    NONE: {ANNOUNCED: ANNOUNCED},
    ANNOUNCED: {RECEIVED_AT_COUNTY: RECEIVED_AT_COUNTY, LOST: LOST},
    RECEIVED_AT_COUNTY: {SORTED: SORTED},
    SORTED: {LOADED: LOADED, MISROUTED: SORTED},
    LOADED: {AT_STATION: AT_STATION, MISROUTED: SORTED},
    AT_STATION: {
        PICKED_UP: PICKED_UP,
        REFUSED: REFUSED,
        MISROUTED: SORTED,
        RETURN_DUE: RETURN_DUE,
    },
    # returns go back up the network: the next run collects them at the station, the
    # county centre hands them to the carrier (``returned``)
    RETURN_DUE: {COLLECTED: COLLECTED},
    REFUSED: {COLLECTED: COLLECTED, RETURNED: RETURNED},
    DAMAGED: {COLLECTED: COLLECTED, RETURNED: RETURNED},
    COLLECTED: {},
    PICKED_UP: {},
    RETURNED: {},
    LOST: {},
}
# from every state inside the network: damaged, lost, returned to the carrier
for _state in _IN_NETWORK:
    TRANSITIONS[_state].update({DAMAGED: DAMAGED, LOST: LOST, RETURNED: RETURNED})


class Event(NamedTuple):
    """What the state machine needs of a scan event (a tuple: the ingest builds 10,000
    per batch; compared field by field, in this order)."""

    occurred_at: dt.datetime
    event_id: str
    type: str


@dataclass(frozen=True)
class Illegal:
    """An event that could not be applied in the state reached before it."""

    event_id: str
    type: str
    state: str  # the state the parcel was in

    @property
    def problem(self) -> str:
        if self.type not in EVENT_TYPES:
            return f"unknown event type {self.type!r}"
        return f"{self.type!r} is not allowed in state {self.state or 'none'!r}"


@dataclass(frozen=True)
class Derivation:
    state: str
    applied: tuple[str, ...]  # event ids, in the order applied
    illegal: tuple[Illegal, ...]
    last_event_id: str = ""  # the last applied event


def order_key(e: Event) -> tuple[bool, dt.datetime, str, str]:
    """The announcement (the manifest, not a physical scan) comes first whatever its
    time: a carrier's manifest often reaches the county after the first scans."""
    return (e.type != ANNOUNCED, e.occurred_at, e.event_id, e.type)


def derive_state(events: Iterable[Event]) -> Derivation:
    """The state after ``events`` (any order, duplicates allowed) and the illegal ones."""
    return derive_from(NONE, events)


def derive_from(state: str, events: Iterable[Event]) -> Derivation:
    """The state reached by applying ``events`` (sorted by :func:`order_key`, a repeated
    id applied once) to ``state``. ``derive_state`` is ``derive_from(NONE, …)``; the
    ingest also uses it to apply a parcel's new events to its stored state when they all
    sort after every event it already has (docs/adr/0010-event-ingest.md)."""
    if isinstance(events, list) and len(events) == 1:  # the ingest's usual case
        e = events[0]
        nxt = TRANSITIONS.get(state, {}).get(e.type)
        if nxt is None:
            return Derivation(state, (), (Illegal(e.event_id, e.type, state),))
        return Derivation(nxt, (e.event_id,), (), e.event_id)
    unique: dict[str, Event] = {}
    for e in sorted(events, key=order_key):
        unique.setdefault(e.event_id, e)  # a repeated id is the same event: applied once
    applied: list[str] = []
    illegal: list[Illegal] = []
    for e in sorted(unique.values(), key=order_key):
        nxt = TRANSITIONS.get(state, {}).get(e.type)
        if nxt is None:
            illegal.append(Illegal(event_id=e.event_id, type=e.type, state=state))
            continue
        state = nxt
        applied.append(e.event_id)
    return Derivation(
        state=state,
        applied=tuple(applied),
        illegal=tuple(illegal),
        last_event_id=applied[-1] if applied else "",
    )
