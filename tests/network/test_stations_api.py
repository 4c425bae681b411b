from __future__ import annotations

import pytest
from tests.factories.stations import make_station

from cunzhan.accounts.models import User
from cunzhan.accounts.roles import Role
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.network.models import Station

pytestmark = pytest.mark.django_db

BASE = "/api/v1/network/stations"
VILLAGE = "520204106201"
OTHER_COUNTY_VILLAGE = "520203101201"


def apply_body(region_code=VILLAGE, **over):
    body = {
        "region_code": region_code,
        "kind": "village_station",
        "name": "海坪村服务站",
        "address": "村委会一楼",
        "applicant_name": "王小二",
        "applicant_phone": "13800000000",
        "premises_m2": 40,
        "committee_recommendation": True,
        "recommendation_note": "村委会同意",
        "deposit_fen": 200000,
        "capabilities": ["parcels", "bill_payment"],
        "opens_at": "08:30",
        "closes_at": "19:00",
        "open_days": "123456",
    }
    body.update(over)
    return body


@pytest.fixture
def manager(regions, make_user):
    return make_user(Role.COUNTY_MANAGER, regions=["520204"])


def post(client, url, body=None):
    return client.post(url, body or {}, content_type="application/json")


def test_onboarding_through_the_api_end_to_end(manager, api_client):
    client = api_client(manager)
    r = post(client, f"{BASE}/applications", apply_body())
    assert r.status_code == 201, r.content
    data = r.json()
    sid = data["id"]
    assert data["status"] == "proposed"
    assert data["code"] == "ZS-520204106201-01"
    assert data["opens_at"] == "08:30"
    assert data["application"]["deposit_fen"] == 200000
    assert data["allowed_actions"] == ["submit", "close"]
    assert data["coord_synthetic"] is True

    r = post(client, f"{BASE}/{sid}/submit")
    assert r.status_code == 200 and r.json()["status"] == "under_review"
    r = post(client, f"{BASE}/{sid}/review", {"approve": True, "note": "同意"})
    assert r.status_code == 200
    assert r.json()["application"]["decision"] == "approved"
    assert "activate" in r.json()["allowed_actions"]
    r = post(
        client,
        f"{BASE}/{sid}/activate",
        {"operator_username": "haiping-op", "operator_display_name": "李四"},
    )
    assert r.status_code == 200, r.content
    out = r.json()
    assert out["station"]["status"] == "active"
    assert out["operator_username"] == "haiping-op"
    operator = User.objects.get(username="haiping-op")
    assert operator.check_password(out["one_time_password"])
    assert scope_for_user(operator).station_ids == (sid,)

    assert post(client, f"{BASE}/{sid}/suspend", {"note": "检查"}).json()["status"] == "suspended"
    assert post(client, f"{BASE}/{sid}/reinstate").json()["status"] == "active"
    assert post(client, f"{BASE}/{sid}/close").json()["status"] == "closed"

    r = client.get(f"{BASE}/{sid}")
    assert r.status_code == 200
    assert r.json()["allowed_actions"] == []


def test_illegal_transition_is_a_409_in_the_one_error_shape(manager, api_client):
    station = make_station(VILLAGE)
    r = post(api_client(manager), f"{BASE}/{station.pk}/activate")
    # the station's status forbids it: a conflict (ADR 0032)
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "illegal_transition"
    assert body["details"] == {"from": "proposed", "to": "active", "action": "activate"}
    assert set(body) == {"code", "message", "details"}


def test_bad_application_names_the_field(manager, api_client):
    client = api_client(manager)
    r = post(client, f"{BASE}/applications", apply_body(premises_m2=1))
    assert r.status_code == 422
    assert r.json()["code"] == "validation_error"
    assert r.json()["details"]["errors"][0]["loc"][-1] == "premises_m2"
    # one value alone: in the published schema (ADR 0032)
    for bad in (
        {"kind": ""},
        {"kind": "school"},
        {"capabilities": ["teleport"]},
        {"open_days": "0"},
        {"opens_at": "00:00:00Z"},
        {"applicant_phone": ""},
        {"name": " "},
        {"region_code": "5202041"},
    ):
        r = post(client, f"{BASE}/applications", apply_body(**bad))
        assert (r.status_code, r.json()["code"]) == (422, "validation_error"), bad
    # values that must agree with each other or with stored data: 422 naming the rule
    r = post(client, f"{BASE}/applications", apply_body(opens_at="20:00", closes_at="08:00"))
    assert (r.status_code, r.json()["code"]) == (422, "invalid_hours")
    r = post(client, f"{BASE}/applications", apply_body(region_code="520204106999"))
    assert (r.status_code, r.json()["code"]) == (422, "unknown_region")
    r = post(client, f"{BASE}/applications", apply_body(region_code="52020410620x"))
    assert r.status_code == 422
    assert r.json()["code"] == "validation_error"
    r = post(client, f"{BASE}/applications", apply_body(name="a\x00b"))
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_text"
    assert not Station.objects.exists()


def test_out_of_scope_stations_are_404_for_reads_and_writes(manager, api_client):
    other = make_station(OTHER_COUNTY_VILLAGE, "under_review")
    client = api_client(manager)
    assert client.get(f"{BASE}/{other.pk}").status_code == 404
    for action, body in [
        ("submit", {}),
        ("review", {"approve": True}),
        ("activate", {}),
        ("suspend", {}),
        ("reinstate", {}),
        ("close", {}),
    ]:
        r = post(client, f"{BASE}/{other.pk}/{action}", body)
        assert r.status_code == 404, action
        assert r.json()["code"] == "station_not_found"
    r = post(client, f"{BASE}/applications", apply_body(region_code=OTHER_COUNTY_VILLAGE))
    assert r.status_code == 422
    assert r.json()["code"] == "unknown_region"
    assert Station.objects.get(pk=other.pk).status == "under_review"
    ids = [s["id"] for s in client.get(BASE).json()["items"]]
    assert other.pk not in ids


def test_permissions_are_checked(regions, make_user, api_client):
    station = make_station(VILLAGE, "under_review")
    driver = make_user(Role.DRIVER, regions=["520204"])
    client = api_client(driver)
    assert client.get(f"{BASE}/{station.pk}").status_code == 200
    r = post(client, f"{BASE}/{station.pk}/review", {"approve": True})
    assert r.status_code == 403
    assert r.json()["code"] == "permission_denied"
    assert post(client, f"{BASE}/applications", apply_body("520204106202")).status_code == 403
    assert client.get(BASE, HTTP_AUTHORIZATION="").status_code == 401


def test_list_filters_and_paging(manager, api_client):
    make_station(VILLAGE, "active")
    make_station("520204106202", "proposed")
    make_station("520204106", "active")
    make_station("520204", "under_review")
    client = api_client(manager)
    data = client.get(BASE).json()
    assert data["count"] == 4
    assert client.get(BASE, {"kind": "village_station"}).json()["count"] == 2
    assert client.get(BASE, {"status": "active"}).json()["count"] == 2
    assert client.get(BASE, {"region": "520204106"}).json()["count"] == 3
    assert client.get(BASE, {"region": VILLAGE}).json()["count"] == 1
    page = client.get(BASE, {"page": 2, "page_size": 3}).json()
    assert page["count"] == 4 and len(page["items"]) == 1
    # the filters' values are in the published schema (ADR 0032)
    bad_values = [{"status": "flying"}, {"kind": "school"}, {"region": "52'--"}]
    bad_values += [{"region": r} for r in ("²", "５２０２", "5202٣")]  # digits are ASCII
    for bad in bad_values:
        r = client.get(BASE, bad)
        assert (r.status_code, r.json()["code"]) == (422, "validation_error"), bad
        assert r.json()["details"]["errors"][0]["loc"][-1] == next(iter(bad))


def test_operator_sees_only_their_station(regions, make_user, api_client):
    station = make_station(VILLAGE, "active")
    depot = make_station("520204106", "active")
    operator = make_user(Role.STATION_OPERATOR, stations=[station.pk])
    client = api_client(operator)
    ids = [s["id"] for s in client.get(BASE).json()["items"]]
    assert ids == [station.pk]
    assert client.get(f"{BASE}/{depot.pk}").status_code == 404
    assert post(client, f"{BASE}/{station.pk}/suspend").status_code == 403


def test_station_list_query_count_does_not_grow_with_rows(
    manager, api_client, django_assert_max_num_queries
):
    for code in (VILLAGE, "520204106202", "520204106", "520204"):
        make_station(code, "active")
    client = api_client(manager)
    # token lookup, scope assignments, count, page (+ has-region check)
    with django_assert_max_num_queries(6):
        r = client.get(BASE, {"page_size": 100})
    assert r.json()["count"] == 4
    assert {s["region_name"] for s in r.json()["items"]} >= {"水城区", "海坪村村民委员会"}
