from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cunzhan.core.models import AuditEvent
from cunzhan.registry import services
from tests.factories.registry import id_number, make_household, make_person

pytestmark = pytest.mark.django_db
BASE = "/api/v1/registry"


@pytest.fixture
def world(regions, make_user, api_client):
    inside = make_household(address="海坪1组")
    number = id_number(born=dt.date(1966, 4, 4), sex="female")
    person = make_person(
        household=inside, name="罗秀英", sex="female", birth_year=1966, id_number_value=number
    )
    services.poverty_register(household=inside, year_registered=2014, main_cause="illness")
    outside = make_household(village="520203101201")
    out_person = make_person(household=outside, name="外人", birth_year=1990)
    officer = make_user("registry_officer", regions=["520204"])
    reader = make_user("county_manager", regions=["520204"])
    driver = make_user("driver", regions=["520204"])
    return {
        "inside": inside,
        "outside": outside,
        "person": person,
        "number": number,
        "out_person": out_person,
        "officer": api_client(officer),
        "reader": api_client(reader),
        "driver": api_client(driver),
    }


def test_list_is_scoped_filtered_and_paginated(world, make_user, api_client):
    for i in range(5):
        make_household(village="520204106202", number=f"9{i}")
    c = world["officer"]
    r = c.get(f"{BASE}/households?page_size=3")
    body = r.json()
    assert r.status_code == 200 and body["count"] == 6 and len(body["items"]) == 3
    assert str(world["outside"].uuid) not in r.content.decode()
    r = c.get(f"{BASE}/households?poor_only=true").json()
    assert [i["id"] for i in r["items"]] == [str(world["inside"].uuid)]
    assert r["items"][0]["poverty"]["main_cause"] == "illness"
    assert r["items"][0]["head_name"] == "罗秀英"
    assert c.get(f"{BASE}/households?q=罗").json()["count"] == 1
    assert c.get(f"{BASE}/households?region=520204106202").json()["count"] == 5
    # a region that is not ASCII digits matches nothing, like any other bad code
    for region in ("52a", "²", "%C2%B2", "５２０２", "520204１"):
        r = c.get(f"{BASE}/households?region={region}")
        assert r.status_code == 200 and r.json()["count"] == 0, (region, r.content)
    with CaptureQueriesContext(connection) as ctx:
        c.get(f"{BASE}/households?page_size=50")
    assert len(ctx.captured_queries) <= 10  # no query per household


def test_detail_masks_ids_and_hides_other_scopes(world):
    c = world["reader"]
    r = c.get(f"{BASE}/households/{world['inside'].uuid}")
    assert r.status_code == 200
    text = r.content.decode()
    assert world["number"] not in text
    assert (
        r.json()["members"][0]["id_number_masked"]
        == world["number"][:2] + "*" * 14 + world["number"][-2:]
    )
    r = c.get(f"{BASE}/households/{world['outside'].uuid}")
    assert r.status_code == 404 and r.json()["code"] == "household_not_found"
    assert c.get(f"{BASE}/households/not-a-uuid").status_code == 422


def test_reveal_needs_permission_and_scope_and_is_audited(world):
    url = f"{BASE}/persons/{world['person'].uuid}/id-number"
    r = world["reader"].get(url)
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    r = world["officer"].get(url)
    assert r.status_code == 200 and r.json()["id_number"] == world["number"]
    ev = AuditEvent.objects.get(action="read")
    assert ev.personal_data and ev.object_id == str(world["person"].uuid)
    r = world["officer"].get(f"{BASE}/persons/{world['out_person'].uuid}/id-number")
    assert r.status_code == 404
    assert AuditEvent.objects.filter(action="read").count() == 1


def test_create_household_and_person(world):
    c = world["officer"]
    r = c.post(
        f"{BASE}/households",
        {"village_code": "520204106202", "address": "2组"},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    hid = r.json()["id"]
    r = c.post(
        f"{BASE}/households", {"village_code": "520203101201"}, content_type="application/json"
    )
    # a code in the body naming nothing the caller may write to: 422, not a 404 (ADR 0032)
    assert r.status_code == 422 and r.json()["code"] == "invalid_village"
    r = c.post(f"{BASE}/households", {"village_code": "520204106"}, content_type="application/json")
    # a village's code has 12 digits: in the published schema
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    number = id_number(born=dt.date(1988, 8, 8))
    r = c.post(
        f"{BASE}/persons",
        {"household": hid, "name": "陈明", "sex": "male", "relation": "head", "id_number": number},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["birth_year"] == 1988 and number not in r.content.decode()
    r = c.post(
        f"{BASE}/persons",
        {"household": hid, "name": "陈亮", "sex": "male", "relation": "child", "id_number": number},
        content_type="application/json",
    )
    # the number is taken by a stored person: a conflict
    assert r.status_code == 409 and r.json()["code"] == "duplicate_id_number"
    r = c.post(
        f"{BASE}/persons",
        {
            "household": hid,
            "name": "陈亮",
            "sex": "male",
            "relation": "child",
            "id_number": number[:17] + ("0" if number[17] != "0" else "1"),
        },
        content_type="application/json",
    )
    # the check digit is a rule the schema's pattern cannot state: 422 naming it
    assert r.status_code == 422 and r.json()["details"]["rule"] == "check_digit"
    assert r.json()["details"]["field"] == "id_number"
    r = c.post(
        f"{BASE}/persons",
        {
            "household": str(world["outside"].uuid),
            "name": "x",
            "sex": "male",
            "relation": "child",
            "birth_year": 2000,
        },
        content_type="application/json",
    )
    assert r.status_code == 404
    r = world["reader"].post(
        f"{BASE}/households", {"village_code": "520204106202"}, content_type="application/json"
    )
    assert r.status_code == 403


def test_import_endpoint(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    c = world["officer"]
    data = (
        "村代码,户编号,姓名,性别,出生年份,与户主关系\n"
        "520204106202,0100,周一,男,1970,户主\n"
        "520203101201,0101,吴二,男,1970,户主\n"
    ).encode("gbk")
    r = c.post(f"{BASE}/imports", {"file": SimpleUploadedFile("县里.csv", data)})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["rows_imported"] == 0 and body["encoding"] == "gb18030"  # all or nothing
    assert body["rows_not_listed"] == 0
    assert body["errors"] == [
        {"row": 3, "column": "村代码", "problem": body["errors"][0]["problem"]}
    ]
    r = c.get(f"{BASE}/imports/{body['id']}")
    assert r.status_code == 200 and r.json()["rows_failed"] == 1
    assert world["driver"].get(f"{BASE}/imports/{body['id']}").status_code == 403
    r = c.post(f"{BASE}/imports", {"file": SimpleUploadedFile("h.csv", b"a,b\n1,2\n")})
    assert r.status_code == 422 and r.json()["code"] == "invalid_import_header"
    assert "h.csv" in r.json()["message"]


def test_import_batch_of_another_area_is_404(world, make_user, api_client):
    from cunzhan.core.scope import RegionScope
    from cunzhan.registry.importers import registry_import

    batch = registry_import(
        scope=RegionScope.for_regions(["520203"]),
        user=None,
        file_name="a.csv",
        data="村代码,户编号,姓名,性别,出生年份,与户主关系\n".encode(),
    )
    assert world["officer"].get(f"{BASE}/imports/{batch.uuid}").status_code == 404
    other = api_client(make_user("auditor", regions=["520203"]))
    assert other.get(f"{BASE}/imports/{batch.uuid}").status_code == 200
