"""The commerce API keeps its published schema (ADR 0032): a rule about one value alone
is in the schema and refused by it (422 ``validation_error`` naming the field); a rule
the schema cannot state is 422 with its own code; a state that forbids the request is
409; a response other than JSON is documented with its content type."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from cunzhan.accounts.roles import Role
from cunzhan.commerce.models import Producer
from cunzhan.devtools.openapi import openapi_schema
from cunzhan.network.models import StationStatus
from tests.factories.commerce import make_lot, make_producer

API = "/api/v1/commerce"
COUNTY = "520204"


@pytest.fixture
def admin(api_client, make_user, regions):
    return api_client(make_user(Role.NETWORK_ADMIN))


def post(client, url, body, method="post"):
    return getattr(client, method)(
        url, json.dumps(body, default=str), content_type="application/json"
    )


def refused_by_schema(r, *fields):
    assert r.status_code == 422, r.content
    body = r.json()
    assert body["code"] == "validation_error", body
    named = {part for e in body["details"]["errors"] for part in e["loc"]}
    assert set(fields) <= named, (fields, body)


# --- filters and query parameters: enums, patterns, ranges ------------------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (f"{API}/lots?status=suspended", "status"),
        (f"{API}/assisted?status=confirmed", "status"),
        (f"{API}/orders?state=lost", "state"),
        (f"{API}/producers?kind=robot", "kind"),
        (f"{API}/prices?county=9x", "county"),
        (f"{API}/sales/report?month=2026-13", "month"),
        (f"{API}/assisted/anomalies?month=0000-01", "month"),
        (f"{API}/assisted/anomalies?month=june", "month"),
    ],
)
def test_a_query_value_outside_the_schema_is_refused_by_it(admin, url, field):
    refused_by_schema(admin.get(url), field)


@pytest.mark.parametrize("months", [0, 37, -16770811])
def test_earnings_months_are_one_to_36(admin, station, months):
    r = admin.get(f"{API}/stations/{station.pk}/earnings?months={months}")
    refused_by_schema(r, "months")
    assert admin.get(f"{API}/stations/{station.pk}/earnings?months=36").status_code == 200


def test_the_filters_still_filter(admin, producer, kiwi):
    make_lot(producer, kiwi)
    assert admin.get(f"{API}/lots?status=harvested").json()["count"] == 1
    assert admin.get(f"{API}/lots?status=graded").json()["count"] == 0
    assert admin.get(f"{API}/producers?kind=person").json()["count"] == 1
    assert admin.get(f"{API}/prices?county={COUNTY}").status_code == 200
    assert admin.get(f"{API}/sales/report?month=2026-06").status_code == 200


# --- bodies: one value alone --------------------------------------------------------------------


def test_price_must_be_positive_and_its_moment_plausible(admin, kiwi):
    grade = kiwi.standards.get(active=True).grades.order_by("rank").first()
    body = {"grade_id": grade.pk, "county_code": COUNTY, "price_fen": 1200}
    refused_by_schema(post(admin, f"{API}/prices", {**body, "price_fen": 0}), "price_fen")
    refused_by_schema(post(admin, f"{API}/prices", {**body, "county_code": "52x"}), "county_code")
    for moment in ("0001-01-01T00:00:00+08:00", "2026-06-01T08:00:00"):  # no offset
        r = post(admin, f"{API}/prices", {**body, "valid_from": moment})
        refused_by_schema(r, "valid_from")
    r = post(admin, f"{API}/prices", {**body, "valid_from": "2026-06-01T08:00:00+08:00"})
    assert r.status_code == 201, r.content


def test_a_shipment_needs_a_destination_pieces_and_weight(admin, producer, kiwi):
    lot = make_lot(producer, kiwi)
    r = post(admin, f"{API}/lots/{lot.uuid}/ship", {"destination": " ", "pieces": 0, "weight_g": 0})
    refused_by_schema(r, "destination", "pieces", "weight_g")


def test_a_producer_kind_and_name_are_in_the_schema(admin, station):
    body = {"station_id": station.pk, "kind": "", "name": "\x1c"}
    refused_by_schema(post(admin, f"{API}/producers", body), "kind", "name")
    assert not Producer.objects.exists()


def test_a_return_refunds_more_than_nothing(admin):
    r = post(admin, f"{API}/orders/00000000-0000-4000-8000-000000000000/return", {"amount_fen": 0})
    refused_by_schema(r, "amount_fen")


def test_assisted_limits_are_bounded_per_value(admin, regions):
    url = f"{API}/assisted/limits/{COUNTY}"
    refused_by_schema(post(admin, url, {"max_price_fen": 0}, "put"), "max_price_fen")
    refused_by_schema(post(admin, url, {"shop_max_fen": {"ebay": 100}}, "put"), "shop_max_fen")
    # a threshold above the most per purchase: a rule between two values
    r = post(admin, url, {"max_price_fen": 1000, "review_above_fen": 2000}, "put")
    assert r.status_code == 422 and r.json()["code"] == "invalid_limit"
    r = post(admin, url, {"max_price_fen": 500_000, "shop_max_fen": {"jd": 100}}, "put")
    assert r.status_code == 200 and r.json()["shop_max_fen"] == {"jd": 100}


# --- rules the schema cannot state: 422 -----------------------------------------------------


def test_a_member_needs_a_name_or_a_household(admin, station):
    coop = make_producer(station, kind="cooperative", name="猕猴桃合作社")
    r = post(admin, f"{API}/producers/{coop.uuid}/members", {"name": "", "phone": ""})
    assert r.status_code == 422 and r.json()["code"] == "invalid_member"
    person = make_producer(station, name="王小二")
    r = post(admin, f"{API}/producers/{person.uuid}/members", {"name": "李四"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_kind"


def test_a_criterion_needs_a_bound_inside_the_physical_range(admin, catalogue):
    def standard(criterion):
        return {
            "product": "kiwifruit-red",
            "name": "新标准",
            "valid_from": "2026-01-01",
            "grades": [{"code": "A", "name": "一级", "criteria": [criterion]}],
        }

    r = post(admin, f"{API}/standards", standard({"quantity": "brix", "min": None, "max": None}))
    assert r.status_code == 422 and r.json()["code"] == "invalid_standard"
    r = post(admin, f"{API}/standards", standard({"quantity": "brix", "min": 20, "max": 10}))
    assert r.status_code == 422 and r.json()["code"] == "invalid_standard"
    r = post(admin, f"{API}/standards", standard({"quantity": "colour", "min": 1}))
    refused_by_schema(r, "quantity")
    r = post(admin, f"{API}/standards", {**standard({"quantity": "brix", "min": 1}), "grades": []})
    refused_by_schema(r, "grades")


# --- a state that forbids it: 409 ------------------------------------------------------------


def test_an_inactive_station_is_a_conflict(admin, station):
    station.status = StationStatus.SUSPENDED
    station.save(update_fields=["status"])
    r = post(
        admin, f"{API}/producers", {"station_id": station.pk, "kind": "person", "name": "王五"}
    )
    assert r.status_code == 409 and r.json()["code"] == "station_inactive"
    body = {
        "station_id": station.pk,
        "villager_name": "张秀英",
        "villager_phone": "13812345678",
        "item": "电饭锅",
        "price_yuan": "199",
        "shop": "taobao",
    }
    r = post(admin, f"{API}/assisted", body)
    assert r.status_code == 409 and r.json()["code"] == "station_inactive"


def test_a_lot_shipped_from_an_inactive_station_is_a_conflict(admin, station, producer, kiwi):
    lot = make_lot(producer, kiwi)
    r = post(
        admin,
        f"{API}/lots/{lot.uuid}/grade",
        {"samples": [{"weight_g": 110, "brix": 16, "defect_pct": 1}]},
    )
    assert r.status_code == 200, r.content
    assert post(admin, f"{API}/lots/{lot.uuid}/pack", {}).status_code == 200
    assert post(admin, f"{API}/lots/{lot.uuid}/pack", {}).json()["code"] == "wrong_state"
    station.status = StationStatus.SUSPENDED
    station.save(update_fields=["status"])
    r = post(
        admin, f"{API}/lots/{lot.uuid}/ship", {"destination": "县城", "pieces": 1, "weight_g": 9}
    )
    assert r.status_code == 409 and r.json()["code"] == "station_inactive"


def test_a_household_twice_in_a_cooperative_is_a_conflict(admin, station, regions):
    from tests.factories.registry import make_household

    household = make_household(village=station.region_id)
    coop = make_producer(station, kind="cooperative", name="茶叶合作社")
    url = f"{API}/producers/{coop.uuid}/members"
    assert post(admin, url, {"household": str(household.uuid)}).status_code == 201
    r = post(admin, url, {"household": str(household.uuid)})
    assert r.status_code == 409 and r.json()["code"] == "duplicate_member"


# --- documented content types -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/commerce/feed.csv", "text/csv"),
        ("/api/v1/commerce/trace/{trace_code}/epcis", "application/ld+json"),
    ],
)
def test_a_response_that_is_not_json_is_documented_with_its_type(db, path, content_type):
    ok = openapi_schema()["paths"][path]["get"]["responses"][200]
    assert list(ok["content"]) == [content_type]


def test_the_feed_and_the_epcis_document_are_served_with_those_types(client, producer, kiwi):
    # no token: both are public
    lot = make_lot(producer, kiwi, harvest_date=timezone.localdate() - dt.timedelta(days=2))
    r = client.get(f"{API}/feed.csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    r = client.get(f"{API}/trace/{lot.code}/epcis")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/ld+json")
