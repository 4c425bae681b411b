from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from tests.factories.stations import apply_kwargs, make_station

from cunzhan.accounts.roles import Role
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.errors import ApplicationError, NotFound, PermissionDenied
from cunzhan.core.models import AuditEvent
from cunzhan.network import geo, services
from cunzhan.network.models import Region, Station, StationApplication, StationStatus
from cunzhan.network.selectors import station_list

S = StationStatus
VILLAGE = "520204106201"
VILLAGE_2 = "520204106202"
OTHER_COUNTY_VILLAGE = "520203101201"

pytestmark = pytest.mark.django_db


def do(action: str, station: Station, actor=None):
    if action == "submit":
        return services.station_submit_for_review(station=station, actor=actor)
    if action == "approve":
        return services.station_review(station=station, approve=True, note="ok", actor=actor)
    if action == "reject":
        return services.station_review(station=station, approve=False, note="no", actor=actor)
    if action == "activate":
        return services.station_activate(station=station, actor=actor)[0]
    return getattr(services, f"station_{action}")(station=station, actor=actor)


STATES = ["proposed", "under_review", "approved", "active", "suspended", "closed"]
LEGAL = {
    ("proposed", "submit"): S.UNDER_REVIEW,
    ("proposed", "close"): S.CLOSED,
    ("under_review", "approve"): S.UNDER_REVIEW,
    ("under_review", "reject"): S.CLOSED,
    ("under_review", "close"): S.CLOSED,
    ("approved", "activate"): S.ACTIVE,
    ("approved", "close"): S.CLOSED,
    ("active", "suspend"): S.SUSPENDED,
    ("active", "close"): S.CLOSED,
    ("suspended", "reinstate"): S.ACTIVE,
    ("suspended", "close"): S.CLOSED,
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", list(services.TRANSITIONS))
def test_every_transition_is_legal_or_refused_by_name(regions, state, action):
    station = make_station(VILLAGE, state)
    before_status = station.status
    if (state, action) in LEGAL:
        after = do(action, station)
        assert after.status == LEGAL[(state, action)]
        assert Station.objects.get(pk=station.pk).status == LEGAL[(state, action)]
        event = AuditEvent.objects.filter(object_type="network.Station", object_id=str(station.pk))
        assert event.first().region_code == VILLAGE
    else:
        with pytest.raises(ApplicationError) as info:
            do(action, station)
        assert info.value.code == "illegal_transition"
        assert info.value.details["from"] == before_status
        assert info.value.details["to"] == services.TRANSITIONS[action].target
        assert info.value.details["action"] == action
        assert Station.objects.get(pk=station.pk).status == before_status


def test_apply_creates_a_proposed_station_with_its_application(regions, make_user):
    manager = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    station = services.station_apply(**apply_kwargs(VILLAGE, actor=manager))
    assert station.status == S.PROPOSED
    assert station.code == "ZS-520204106201-01"
    assert station.capabilities == ["parcels", "assisted_purchase"]
    app = station.application
    assert app.decision == StationApplication.Decision.PENDING
    assert app.deposit_fen == 200_000
    assert app.submitted_by == manager
    event = AuditEvent.objects.get(object_type="network.Station", action="create")
    assert event.region_code == VILLAGE
    assert event.after["status"] == "proposed"
    assert event.actor == manager


def test_review_and_transitions_are_audited_with_before_and_after(regions):
    station = make_station(VILLAGE, S.ACTIVE)
    services.station_suspend(station=station, note="卫生检查不合格")
    event = AuditEvent.objects.filter(object_type="network.Station", action="transition").first()
    assert event.before == {"status": "active"}
    assert event.after == {"status": "suspended"}
    assert "卫生检查不合格" in event.note
    review = AuditEvent.objects.get(object_type="network.StationApplication")
    assert review.after["decision"] == "approved"


def test_a_rejection_needs_a_note_and_closes_the_station(regions):
    station = make_station(VILLAGE, S.UNDER_REVIEW)
    with pytest.raises(ApplicationError) as info:
        services.station_review(station=station, approve=False, note=" ")
    assert info.value.code == "note_required"
    station = services.station_review(station=station, approve=False, note="场地太小")
    assert station.status == S.CLOSED
    station.application.refresh_from_db()
    assert station.application.decision == "rejected"
    assert station.application.review_note == "场地太小"


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"region_code": "520204106299"}, "unknown_region", "region_code"),
        ({"kind": "spaceport"}, "invalid_kind", "kind"),
        ({"kind": "township_depot"}, "kind_level_mismatch", "region_code"),
        ({"kind": "county_centre"}, "kind_level_mismatch", "region_code"),
        ({"premises_m2": 2}, "invalid_premises", "premises_m2"),
        ({"premises_m2": 10**6}, "invalid_premises", "premises_m2"),
        ({"deposit_fen": -1}, "invalid_deposit", "deposit_fen"),
        ({"deposit_fen": 10**9}, "invalid_deposit", "deposit_fen"),
        (
            {"committee_recommendation": False},
            "recommendation_required",
            "committee_recommendation",
        ),
        ({"applicant_phone": "12345"}, "invalid_phone", "applicant_phone"),
        ({"capabilities": ["parcels", "teleport"]}, "invalid_capability", "capabilities"),
        ({"opens_at": dt.time(20), "closes_at": dt.time(8)}, "invalid_hours", "closes_at"),
        ({"open_days": "189"}, "invalid_open_days", "open_days"),
        ({"name": ""}, "invalid_name", "name"),
    ],
)
def test_apply_refuses_bad_input_naming_the_field(regions, overrides, code, field):
    with pytest.raises(ApplicationError) as info:
        services.station_apply(**{**apply_kwargs(VILLAGE), **overrides})
    assert info.value.code == code
    assert info.value.details["field"] == field
    assert info.value.message
    assert not Station.objects.exists()


def test_kind_must_match_the_level_of_the_region(regions):
    assert services.station_apply(**apply_kwargs("520204")).kind == "county_centre"
    assert services.station_apply(**apply_kwargs("520204106")).kind == "township_depot"
    with pytest.raises(ApplicationError, match="乡级"):
        services.station_apply(**apply_kwargs("520204", kind="township_depot"))


def test_withdrawn_region_refused(regions):
    Region.objects.filter(code=VILLAGE).update(withdrawn_in="nbs2024")
    with pytest.raises(ApplicationError) as info:
        services.station_apply(**apply_kwargs(VILLAGE))
    assert info.value.code == "region_withdrawn"


def test_one_live_village_station_per_village(regions):
    first = make_station(VILLAGE, S.SUSPENDED)
    with pytest.raises(ApplicationError) as info:
        services.station_apply(**apply_kwargs(VILLAGE))
    assert info.value.code == "duplicate_station"
    assert info.value.details["station_id"] == first.pk
    services.station_close(station=first)
    second = services.station_apply(**apply_kwargs(VILLAGE))
    assert second.code == "ZS-520204106201-02"
    # another village is independent
    assert services.station_apply(**apply_kwargs(VILLAGE_2)).code == "ZS-520204106202-01"


def test_apply_outside_the_actors_scope_is_refused(regions, make_user):
    manager = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    with pytest.raises(ApplicationError) as info:
        services.station_apply(**apply_kwargs(OTHER_COUNTY_VILLAGE, actor=manager))
    assert info.value.code == "unknown_region"
    driver = make_user(Role.DRIVER, regions=["520204"])
    with pytest.raises(PermissionDenied):
        services.station_apply(**apply_kwargs(VILLAGE, actor=driver))


def test_county_manager_cannot_act_on_another_countys_station(regions, make_user):
    manager = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    other = make_station(OTHER_COUNTY_VILLAGE, S.UNDER_REVIEW)
    with pytest.raises(NotFound):
        services.station_review(station=other, approve=True, actor=manager)
    own = make_station(VILLAGE, S.UNDER_REVIEW)
    assert services.station_review(station=own, approve=True, actor=manager).pk == own.pk
    operator = make_user(Role.STATION_OPERATOR, stations=[own.pk])
    with pytest.raises(PermissionDenied):
        services.station_activate(station=own, actor=operator)


def test_activation_creates_an_operator_scoped_to_the_station_only(regions, make_user):
    manager = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    station = make_station(VILLAGE, "approved")
    depot = make_station("520204106", S.ACTIVE)
    station, operator, password = services.station_activate(
        station=station, actor=manager, operator_username="haiping", operator_display_name="李四"
    )
    assert station.status == S.ACTIVE
    assert operator.username == "haiping"
    assert operator.role == Role.STATION_OPERATOR
    assert operator.check_password(password)
    assert len(password) >= 10
    scope = scope_for_user(operator)
    assert scope.station_ids == (station.pk,)
    assert scope.prefixes == (VILLAGE,)
    assert list(station_list(scope=scope)) == [station]
    assert depot not in station_list(scope=scope)
    # a taken username is refused, naming the field, and the station stays as it was
    other = make_station(VILLAGE_2, "approved")
    with pytest.raises(ApplicationError) as info:
        services.station_activate(station=other, actor=manager, operator_username="haiping")
    assert info.value.code == "username_taken"
    assert info.value.details["field"] == "operator_username"
    assert Station.objects.get(pk=other.pk).status == S.UNDER_REVIEW


def test_default_operator_username_comes_from_the_station_code(regions):
    _st, operator, _pw = services.station_activate(station=make_station(VILLAGE, "approved"))
    assert operator.username == "zs-520204106201-01"
    assert operator.display_name == "王小二"


def test_synthetic_point_of_a_village_is_deterministic_and_inside_the_real_outline(regions):
    # 双水街道 (520204002) has a real point; put the fixture's township there
    Region.objects.filter(code="520204106").update(
        longitude=105.051313, latitude=26.526293, coord_source="real"
    )
    fences = geo.county_fences(settings.DATA_DIR, "520204")
    a = make_station(VILLAGE)
    b = make_station(VILLAGE_2)
    assert a.coord_synthetic and b.coord_synthetic
    assert (a.longitude, a.latitude) != (b.longitude, b.latitude)
    for s in (a, b):
        assert geo.point_in_any(s.longitude, s.latitude, fences)
        assert geo.haversine_km((105.051313, 26.526293), (s.longitude, s.latitude)) >= 1.5 * 0.99
        assert geo.haversine_km((105.051313, 26.526293), (s.longitude, s.latitude)) <= 8.0 * 1.01
    again = services.station_coordinates(region=Region.objects.get(code=VILLAGE))
    assert again == (a.longitude, a.latitude, True)
    # the township depot sits on the township's real point
    depot = make_station("520204106")
    assert (depot.longitude, depot.latitude, depot.coord_synthetic) == (
        105.051313,
        26.526293,
        False,
    )


def test_village_whose_township_has_no_point_is_placed_from_the_county_seat(regions):
    Region.objects.filter(code="520204").update(longitude=104.95783, latitude=26.547904)
    Region.objects.filter(code="520204106").update(longitude=None, latitude=None, coord_source="")
    fences = geo.county_fences(settings.DATA_DIR, "520204")
    station = make_station(VILLAGE)
    assert station.coord_synthetic
    assert geo.point_in_any(station.longitude, station.latitude, fences)
    d = geo.haversine_km((104.95783, 26.547904), (station.longitude, station.latitude))
    assert d <= 25 + 8 + 0.5
    # both villages of the township cluster around the same synthetic township point
    other = make_station(VILLAGE_2)
    assert (
        geo.haversine_km((station.longitude, station.latitude), (other.longitude, other.latitude))
        <= 16.5
    )
