"""The commerce demo data (through the services, idempotent) and the query counts of the
list endpoints (constant in the number of rows)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cunzhan.accounts.roles import Role
from cunzhan.commerce.demo import demo_commerce
from cunzhan.commerce.models import Lot, PriceTier, Producer
from cunzhan.registry import services as registry_services
from tests.factories.commerce import NATIONAL, make_lot, make_producer


def test_demo_builds_producers_graded_lots_and_prices_once(station, regions):
    registry_services.household_create(scope=NATIONAL, village_code=station.region_id)
    made = demo_commerce(seed=7, county_codes=["520204"], echo=lambda _m: None)
    assert made["producers"] == 2 and made["lots"] == 3
    kinds = set(Producer.objects.values_list("kind", flat=True))
    assert kinds == {"cooperative", "household"}
    assert not Lot.objects.filter(status="harvested").exists()  # every demo lot is graded
    assert PriceTier.objects.filter(county_id="520204").count() == made["prices"] > 0
    again = demo_commerce(seed=7, county_codes=["520204"], echo=lambda _m: None)
    assert again == {"producers": 0, "lots": 0, "prices": 0}
    assert Lot.objects.count() == 3


@pytest.mark.parametrize("url", ["/api/v1/commerce/lots", "/api/v1/commerce/producers"])
def test_list_endpoints_use_a_constant_number_of_queries(api_client, make_user, station, kiwi, url):
    user = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    client = api_client(user)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            r = client.get(url)
        assert r.status_code == 200
        return len(ctx.captured_queries)

    producer = make_producer(station, kind="cooperative", name="社", members=[{"name": "甲"}])
    make_lot(producer, kiwi)
    count()  # the first request of a token also records its use
    few = count()
    for i in range(5):
        p = make_producer(station, kind="cooperative", name=f"社{i}", members=[{"name": "乙"}])
        make_lot(p, kiwi)
    assert count() == few
