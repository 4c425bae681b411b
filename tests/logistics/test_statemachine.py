"""The one state machine: order and duplication do not matter; illegal steps are reported."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cunzhan.logistics import statemachine as sm

T0 = dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)


def ev(i: int, type_: str, minutes: int | None = None) -> sm.Event:
    return sm.Event(T0 + dt.timedelta(minutes=i if minutes is None else minutes), f"e{i}", type_)


HAPPY = [
    sm.ANNOUNCED,
    sm.RECEIVED_AT_COUNTY,
    sm.SORTED,
    sm.LOADED,
    sm.AT_STATION,
    sm.PICKED_UP,
]


def test_the_happy_path_ends_picked_up():
    r = sm.derive_state([ev(i, t) for i, t in enumerate(HAPPY)])
    assert r.state == sm.PICKED_UP
    assert r.illegal == ()
    assert len(r.applied) == 6


def test_misrouted_goes_back_to_sorted_and_on():
    types = [*HAPPY[:4], sm.MISROUTED, sm.LOADED, sm.AT_STATION]
    r = sm.derive_state([ev(i, t) for i, t in enumerate(types)])
    assert r.state == sm.AT_STATION and r.illegal == ()


def test_refused_then_returned():
    types = [*HAPPY[:5], sm.REFUSED, sm.RETURNED]
    assert sm.derive_state([ev(i, t) for i, t in enumerate(types)]).state == sm.RETURNED


def test_an_illegal_step_is_reported_not_applied():
    events = [ev(0, sm.ANNOUNCED), ev(1, sm.PICKED_UP), ev(2, sm.RECEIVED_AT_COUNTY)]
    r = sm.derive_state(events)
    assert r.state == sm.RECEIVED_AT_COUNTY
    assert r.illegal == (sm.Illegal(event_id="e1", type=sm.PICKED_UP, state=sm.ANNOUNCED),)
    assert "not allowed" in r.illegal[0].problem


def test_nothing_after_picked_up_or_lost():
    r = sm.derive_state([ev(i, t) for i, t in enumerate([*HAPPY, sm.LOST])])
    assert r.state == sm.PICKED_UP and [i.type for i in r.illegal] == [sm.LOST]


def test_ties_in_time_are_broken_by_event_id():
    a = sm.Event(T0, "b", sm.RECEIVED_AT_COUNTY)
    b = sm.Event(T0, "a", sm.ANNOUNCED)
    assert sm.derive_state([a, b]).state == sm.RECEIVED_AT_COUNTY


def test_late_event_is_applied_in_its_place():
    events = [ev(0, sm.ANNOUNCED), ev(2, sm.SORTED)]
    assert sm.derive_state(events).illegal  # sorted before received
    late = sm.derive_state([*events, ev(1, sm.RECEIVED_AT_COUNTY)])
    assert late.state == sm.SORTED and late.illegal == ()


events_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=20),  # minutes
        st.sampled_from(sm.EVENT_TYPES),
    ),
    min_size=1,
    max_size=15,
).map(lambda xs: [ev(i, t, minutes=m) for i, (m, t) in enumerate(xs)])


@settings(max_examples=300, deadline=None)
@given(events=events_strategy, data=st.data())
def test_any_reordering_or_duplication_gives_the_same_result(events, data):
    base = sm.derive_state(events)
    dups = data.draw(st.lists(st.sampled_from(events), max_size=10))
    shuffled = data.draw(st.permutations(events + dups))
    again = sm.derive_state(shuffled)
    assert again.state == base.state
    assert again.illegal == base.illegal
    assert again.applied == base.applied
    assert base.state in (sm.NONE, *sm.STATES)
    # every event is either applied or reported, never dropped
    assert len(base.applied) + len(base.illegal) == len({e.event_id for e in events})


@settings(max_examples=100, deadline=None)
@given(prefix=st.integers(min_value=0, max_value=6))
def test_every_prefix_of_the_happy_path_is_legal(prefix):
    r = sm.derive_state([ev(i, t) for i, t in enumerate(HAPPY[:prefix])])
    assert r.illegal == ()
    assert r.state == (HAPPY[prefix - 1] if prefix else sm.NONE)


def test_a_late_manifest_still_comes_first():
    events = [ev(0, sm.RECEIVED_AT_COUNTY), ev(1, sm.SORTED), ev(9, sm.ANNOUNCED)]
    r = sm.derive_state(events)
    assert r.state == sm.SORTED and r.illegal == ()
    assert r.applied == ("e9", "e0", "e1")


@pytest.mark.parametrize("state", sorted(sm.TRANSITIONS))
def test_one_event_gives_what_the_general_path_gives(state):
    """derive_from's shortcut for a list of one event (the ingest's usual case) agrees
    with the general path (an iterator takes it) for every state and event type."""
    for type_ in sm.EVENT_TYPES:
        e = ev(1, type_)
        assert sm.derive_from(state, [e]) == sm.derive_from(state, iter([e]))
