from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from cunzhan.core.models import AuditEvent
from cunzhan.registry import services
from cunzhan.registry.models import Household, ImportBatch
from tests.factories.registry import id_number, make_household, make_person

pytestmark = pytest.mark.django_db


def _login(user):
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def data(regions, make_user):
    hh = make_household(address="海坪村3组")
    number = id_number(born=dt.date(1958, 9, 9))
    person = make_person(household=hh, name="杨德福", birth_year=1958, id_number_value=number)
    services.poverty_register(
        household=hh, year_registered=2014, main_cause="disability", year_exited=2019
    )
    services.income_record_set(household=hh, year=2023, source="transfers", amount_fen=360000)
    other = make_household(village="520203101201")
    return {
        "hh": hh,
        "person": person,
        "number": number,
        "other": other,
        "officer": make_user("registry_officer", regions=["520204"]),
        "reader": make_user("county_manager", regions=["520204"]),
        "driver": make_user("driver", regions=["520204"]),
    }


def test_list_page_filters_and_scope(data):
    c = _login(data["reader"])
    r = c.get(reverse("registry:households"))
    html = r.content.decode()
    assert r.status_code == 200 and "杨德福" in html and "520203101201" not in html
    assert 'name="viewport"' in html
    r = c.get(reverse("registry:households"), {"q": "不存在"})
    assert "没有符合条件的户" in r.content.decode()
    r = c.get(
        reverse("registry:households"),
        {"poor": "on"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="household-results",
    )
    assert "<html" not in r.content.decode() and "杨德福" in r.content.decode()
    r = c.get(reverse("registry:households"), {"region": "abc"})
    html = r.content.decode()
    assert 'id="region-missing"' in html and "abc" in html and "杨德福" not in html
    assert _login(data["driver"]).get(reverse("registry:households")).status_code == 403


def test_detail_masks_and_reveal_is_audited(data):
    url = reverse("registry:household", args=[data["hh"].uuid])
    r = _login(data["reader"]).get(url)
    html = r.content.decode()
    assert r.status_code == 200 and data["number"] not in html
    assert data["person"].id_masked in html and "显示身份证号" not in html
    assert "¥3,600.00" in html
    officer = _login(data["officer"])
    html = officer.get(url).content.decode()
    assert "显示身份证号" in html and data["number"] not in html
    reveal = reverse("registry:id_number", args=[data["person"].uuid])
    assert officer.get(reveal).status_code == 405
    r = officer.post(reveal, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and data["number"] in r.content.decode()
    assert r["Cache-Control"] == "no-store"
    id_reads = AuditEvent.objects.filter(action="read", personal_data=True, note="id_number")
    assert id_reads.count() == 1
    assert _login(data["reader"]).post(reveal).status_code == 403
    assert officer.get(reverse("registry:household", args=[data["other"].uuid])).status_code == 404


def test_create_form_shows_clear_errors(data):
    c = _login(data["officer"])
    url = reverse("registry:household_create")
    r = c.post(url, {"village_code": "520203101201"})
    assert r.status_code == 200 and "不在您的管辖范围内" in r.content.decode()
    r = c.post(url, {"village_code": "5202"})
    assert r.status_code == 200 and "errorlist" in r.content.decode()
    r = c.post(url, {"village_code": "520204106202", "address": "玉舍2组"})
    assert r.status_code == 302
    hh = Household.objects.get(village_id="520204106202")
    purl = reverse("registry:person_create", args=[hh.uuid])
    r = c.post(
        purl,
        {"name": "龙英", "sex": "female", "relation": "head", "id_number": "520204199001010011"},
    )
    assert r.status_code == 200 and "校验位" in r.content.decode()
    r = c.post(purl, {"name": "龙英", "sex": "female", "relation": "head", "birth_year": 1990})
    assert r.status_code == 302
    assert _login(data["reader"]).get(url).status_code == 403


def test_import_page_report_and_csv(data):
    c = _login(data["officer"])
    content = (
        "村代码,户编号,姓名,性别,出生年份,与户主关系\n"
        "520204106202,0050,吴明,男,1970,户主\n"
        "520204106202,0051,吴亮,男,19x,户主\n"
    ).encode("gbk")
    r = c.post(reverse("registry:import"), {"file": SimpleUploadedFile("乡里.csv", content)})
    assert r.status_code == 302
    batch = ImportBatch.objects.get()
    html = c.get(r["Location"]).content.decode()
    assert "乡里.csv" in html and "出生年份" in html and "下载问题报告" in html
    r = c.get(reverse("registry:import_report", args=[batch.uuid]))
    text = r.content.decode("utf-8-sig")
    assert r["Content-Type"].startswith("text/csv")
    assert text.splitlines()[1].startswith("3,出生年份,")
    r = c.post(reverse("registry:import"), {"file": SimpleUploadedFile("bad.csv", b"x,y\n1,2\n")})
    assert r.status_code == 200
    html = r.content.decode()
    assert "bad.csv" in html and "缺少必需的列" in html
    assert ImportBatch.objects.count() == 1
    assert (
        c.get(reverse("registry:import_template")).content.decode("utf-8-sig").startswith("村代码")
    )


def test_home_panel_and_region_counters(data):
    from cunzhan.core.rollups import region_counters
    from cunzhan.core.scope import RegionScope

    html = _login(data["officer"]).get(reverse("accounts:home")).content.decode()
    assert "建档立卡" in html and reverse("registry:import") in html
    counters = {c.key: c for c in region_counters()}
    scope = RegionScope.national()
    assert counters["households"].func(scope, "5202", 6) == {"520204": 1, "520203": 1}
    assert counters["poor_households"].func(scope, "520204", 9) == {"520204106": 1}
    assert counters["poor_not_exited"].func(scope, "520204", 9) == {}
    assert counters["households"].func(RegionScope.for_regions(["520204"]), "", 2) == {"52": 1}
