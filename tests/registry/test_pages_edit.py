"""Region filter by name, import help and template, member/household edit, poverty
register actions and consents in the pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from cunzhan.core.models import AuditEvent
from cunzhan.registry import services
from cunzhan.registry.importers import COLUMNS
from cunzhan.registry.models import (
    Consent,
    ConsentPurpose,
    Household,
    Person,
    PovertyCause,
    PovertyRegistration,
    Relation,
    Sex,
)
from tests.factories.registry import id_number, make_household, make_person

pytestmark = pytest.mark.django_db


def _login(user):
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def data(regions, make_user):
    hh = make_household(address="海坪村3组")
    person = make_person(
        household=hh,
        name="杨德福",
        birth_year=1958,
        id_number_value=id_number(born=dt.date(1958, 9, 9)),
    )
    yushe = make_household(village="520204106202", address="玉舍村1组")
    make_person(household=yushe, name="王玉兰", sex="female", birth_year=1970)
    other = make_household(village="520203101201", address="那玉村")
    make_person(household=other, name="外县人", birth_year=1970)
    return {
        "hh": hh,
        "person": person,
        "other": other,
        "officer": make_user("registry_officer", regions=["520204"]),
        "reader": make_user("county_manager", regions=["520204"]),
        "auditor": make_user("auditor", regions=["520204"]),
        "admin": make_user("network_admin"),
    }


# -- 1. region filter by name ---------------------------------------------------------------


def test_household_filter_by_unique_name_resolves(data):
    c = _login(data["officer"])
    r = c.get(reverse("registry:households"), {"region": "海坪村村民委员会"})
    html = r.content.decode()
    assert r.status_code == 200 and "杨德福" in html and "王玉兰" not in html
    assert 'id="region-resolved"' in html and "520204106201" in html
    # 水城 -> 水城区 (the name plus a unit suffix), both households in it
    html = c.get(reverse("registry:households"), {"region": "水城"}).content.decode()
    assert "杨德福" in html and "王玉兰" in html and "region-choices" not in html


def test_household_filter_by_ambiguous_name_offers_choices(data):
    # 玉舍 is 玉舍镇 (town) and 玉舍村村民委员会 (village): neither is "玉舍" + one suffix
    # alone... the town is, so it resolves; 海坪 only by containment
    c = _login(data["officer"])
    html = c.get(reverse("registry:households"), {"region": "玉舍"}).content.decode()
    assert 'id="region-resolved"' in html and "520204106" in html
    assert "杨德福" in html and "王玉兰" in html
    # "村民委员会" is in both village names: several units, the user chooses
    html = c.get(reverse("registry:households"), {"region": "村民委员会"}).content.decode()
    assert 'id="region-choices"' in html
    assert "520204106201" in html and "520204106202" in html
    assert "520203101201" not in html  # 那玉村 is outside the scope
    assert "杨德福" not in html  # nothing listed until one is chosen


def test_household_filter_name_outside_scope_or_unknown(data):
    c = _login(data["officer"])
    # digits that are not ASCII 0-9 ('²', fullwidth) are no code: a name that matches none
    for text in ("六枝特区", "那玉村村民委员会", "不存在的地方", "²", "５２０２０４", "520204١"):
        r = c.get(reverse("registry:households"), {"region": text})
        html = r.content.decode()
        assert r.status_code == 200 and 'id="region-missing"' in html, text
        assert "外县人" not in html and "杨德福" not in html
    # htmx partial carries the message too
    r = c.get(
        reverse("registry:households"),
        {"region": "不存在"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="household-results",
    )
    assert "<html" not in r.content.decode() and "region-missing" in r.content.decode()


def test_household_filter_uses_network_region_search(data):
    html = _login(data["officer"]).get(reverse("registry:households")).content.decode()
    assert reverse("network:region_search") in html and 'list="region-options"' in html
    r = _login(data["officer"]).get(reverse("network:region_search"), {"q": "玉舍"})
    assert "520204106" in r.content.decode()


def test_station_map_region_by_name(data):
    c = _login(data["admin"])
    r = c.get(reverse("network:map"), {"region": "水城"})
    assert r.status_code == 200 and "520204" in r.content.decode()
    assert "region-missing" not in r.content.decode()
    r = c.get(reverse("network:map"), {"region": "华"})  # 五华区, 华山街道, 光华社区…
    assert 'id="region-choices"' in r.content.decode()
    r = _login(data["officer"]).get(reverse("network:map"), {"region": "六枝"})
    assert r.status_code == 200 and 'id="region-missing"' in r.content.decode()
    assert "520203" not in r.content.decode()


# -- 2. import help and template -----------------------------------------------------------


def test_import_page_lists_accepted_values_from_model_choices(data):
    html = _login(data["officer"]).get(reverse("registry:import")).content.decode()
    for choices in (Sex, Relation, PovertyCause):
        for value in choices.values:
            assert f"<code>{value}</code>" in html, value
    for label in ("男", "女", "户主", "儿媳/女婿", "因病", "缺劳力", "转移性收入(元)"):
        assert label in html
    assert "GBK" in html and "UTF-8" in html and ".xlsx" in html
    assert "示例0001" in html and "520204106201" in html  # first village of the scope


def test_import_page_english_shows_translations(data):
    c = _login(data["officer"])
    html = c.get(reverse("registry:import"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<b>户主</b>" in html and "<code>head</code>" in html  # what files contain


def test_template_has_example_row_that_imports(data):
    c = _login(data["officer"])
    r = c.get(reverse("registry:import_template"))
    text = r.content.decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert len(lines) == 2 and lines[0].split(",") == [col.label for col in COLUMNS]
    assert lines[1].startswith("520204106201,示例0001,")
    before = Household.objects.count()
    r = c.post(
        reverse("registry:import"),
        {"file": SimpleUploadedFile("template.csv", r.content, "text/csv")},
    )
    assert r.status_code == 302
    assert Household.objects.count() == before + 1
    hh = Household.objects.get(number="示例0001")
    assert hh.village_id == "520204106201"
    assert PovertyRegistration.objects.get(household=hh).year_exited == 2019
    assert hh.incomes.count() == 4  # every source, 0 included
    assert hh.members.get().name == "示例户主"
    # importing it again creates nothing new
    r = c.post(
        reverse("registry:import"),
        {"file": SimpleUploadedFile("template.csv", text.encode(), "text/csv")},
    )
    assert r.status_code == 302
    assert Household.objects.count() == before + 1 and hh.members.count() == 1


def test_template_without_villages_is_header_only(regions, make_user):
    from cunzhan.network.models import Kind, Level, Region

    Region.objects.create(
        code="520201", name="钟山区", level=Level.COUNTY, kind=Kind.DISTRICT, parent_id="5202"
    )
    user = make_user("registry_officer", regions=["520201"])
    c = _login(user)
    text = c.get(reverse("registry:import_template")).content.decode("utf-8-sig")
    assert len(text.strip().splitlines()) == 1
    html = c.get(reverse("registry:import")).content.decode()
    assert "仅表头" in html


# -- 4. member and household edit ---------------------------------------------------------


def test_person_edit_page(data):
    c = _login(data["officer"])
    url = reverse("registry:person_edit", args=[data["person"].uuid])
    r = c.get(url)
    assert r.status_code == 200 and 'value="杨德福"' in r.content.decode()
    old_index = data["person"].id_number_index
    r = c.post(
        url,
        {"name": "杨德富", "sex": "male", "relation": "head", "birth_year": "1958",
         "phone": "13900001111", "id_number": ""},
    )  # fmt: skip
    assert r.status_code == 302
    p = Person.objects.get(pk=data["person"].pk)
    assert p.name == "杨德富" and p.phone == "13900001111" and p.id_number_index == old_index
    assert AuditEvent.objects.filter(object_type="registry.Person", action="update").exists()
    # bad ID number: a form error on the field, nothing saved
    r = c.post(
        url,
        {"name": "杨德富", "sex": "male", "relation": "head", "birth_year": "1958",
         "id_number": "52020419580909123X"},
    )  # fmt: skip
    html = r.content.decode()
    assert r.status_code == 400 and "has-error" in html
    # birth year that disagrees with the new number
    new = id_number(born=dt.date(1960, 1, 2))
    r = c.post(
        url,
        {"name": "杨德富", "sex": "male", "relation": "head", "birth_year": "1958",
         "id_number": new},
    )  # fmt: skip
    assert r.status_code == 400 and "1960" in r.content.decode()
    assert Person.objects.get(pk=p.pk).id_number_index == old_index


def test_person_edit_denied_for_viewer_and_out_of_scope(data):
    url = reverse("registry:person_edit", args=[data["person"].uuid])
    assert _login(data["reader"]).get(url).status_code == 403
    other = data["other"].members.first()
    r = _login(data["officer"]).get(reverse("registry:person_edit", args=[other.uuid]))
    assert r.status_code == 404


def test_household_edit_page(data):
    c = _login(data["officer"])
    url = reverse("registry:household_edit", args=[data["hh"].uuid])
    assert "海坪村3组" in c.get(url).content.decode()
    assert c.post(url, {"address": "海坪村4组"}).status_code == 302
    assert Household.objects.get(pk=data["hh"].pk).address == "海坪村4组"
    r = c.post(url, {"address": "x" * 300})
    assert r.status_code == 400
    assert c.get(reverse("registry:household_edit", args=[data["other"].uuid])).status_code == 404


# -- 5. poverty register -------------------------------------------------------------------


def test_poverty_register_and_exit_pages(data):
    c = _login(data["officer"])
    hh = data["hh"]
    detail = c.get(reverse("registry:household", args=[hh.uuid])).content.decode()
    assert reverse("registry:poverty_register", args=[hh.uuid]) in detail
    url = reverse("registry:poverty_register", args=[hh.uuid])
    r = c.post(url, {"year_registered": "2015", "main_cause": "nope"})
    assert r.status_code == 400
    r = c.post(url, {"year_registered": "2015", "main_cause": "water"})
    assert r.status_code == 302
    reg = PovertyRegistration.objects.get(household=hh)
    assert (reg.year_registered, reg.main_cause, reg.year_exited) == (2015, "water", None)
    exit_url = reverse("registry:poverty_exit", args=[hh.uuid])
    r = c.post(exit_url, {"year_exited": "2010"})  # before registration
    assert r.status_code == 400 and "2010" in r.content.decode()
    assert c.post(exit_url, {"year_exited": "2020"}).status_code == 302
    reg.refresh_from_db()
    assert reg.year_exited == 2020
    r = c.post(exit_url, {"year_exited": "2021"})  # already exited: a form error, no 500
    assert r.status_code == 400
    # correcting the cause keeps the exit year
    c.post(url, {"year_registered": "2015", "main_cause": "illness"})
    reg.refresh_from_db()
    assert (reg.main_cause, reg.year_exited) == ("illness", 2020)
    actions = set(
        AuditEvent.objects.filter(
            object_type="registry.PovertyRegistration", object_id=str(hh.uuid)
        ).values_list("action", flat=True)
    )
    assert actions == {"create", "transition", "update"}


def test_poverty_exit_not_registered_is_form_error(data):
    url = reverse("registry:poverty_exit", args=[data["hh"].uuid])
    r = _login(data["officer"]).post(url, {"year_exited": "2020"})
    assert r.status_code == 400 and "未建档立卡" in r.content.decode()


def test_audit_link_for_auditor(data):
    services.poverty_register(household=data["hh"], year_registered=2014, main_cause="illness")
    html = _login(data["admin"]).get(reverse("registry:household", args=[data["hh"].uuid]))
    assert f"object_id={data['hh'].uuid}" in html.content.decode()
    html = _login(data["officer"]).get(reverse("registry:household", args=[data["hh"].uuid]))
    assert "object_type=registry.PovertyRegistration" not in html.content.decode()


# -- 3. consents ---------------------------------------------------------------------------


def test_consent_grant_and_withdraw_in_pages(data):
    c = _login(data["officer"])
    person = data["person"]
    url = reverse("registry:consent_grant", args=[person.uuid])
    r = c.post(url, {"purpose": "sms", "method": "paper"}, HTTP_HX_REQUEST="true")
    html = r.content.decode()
    assert r.status_code == 200 and "<html" not in html and f"consents-{person.uuid}" in html
    consent = Consent.objects.get(person=person, purpose=ConsentPurpose.SMS)
    assert consent.recorded_by == data["officer"] and consent.withdrawn_at is None
    assert str(data["officer"]) in html
    r = c.post(url, {"purpose": "bogus", "method": "paper"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 400 and "errorlist" in r.content.decode()
    detail = c.get(reverse("registry:household", args=[data["hh"].uuid])).content.decode()
    assert "短信通知" in detail and "已同意" in detail and "纸质签字" in detail
    w = reverse("registry:consent_withdraw", args=[consent.pk])
    r = c.post(w, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and "已撤回" in r.content.decode()
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None
    r = c.post(w, HTTP_HX_REQUEST="true")  # twice: a message, not a 500
    assert r.status_code == 400 and "已撤回" in r.content.decode()
    assert c.post(w).status_code == 302  # plain POST: back to the household
    events = AuditEvent.objects.filter(object_type="registry.Consent", object_id=str(consent.pk))
    assert sorted(events.values_list("action", flat=True)) == ["create", "update"]
    assert c.get(w).status_code == 405


def test_consent_pages_permissions_and_scope(data):
    person = data["person"]
    url = reverse("registry:consent_grant", args=[person.uuid])
    assert (
        _login(data["auditor"]).post(url, {"purpose": "sms", "method": "paper"}).status_code == 403
    )
    other = data["other"].members.first()
    consent = services.consent_grant(person=other, purpose="sms", method="paper")
    c = _login(data["officer"])
    assert c.post(reverse("registry:consent_grant", args=[other.uuid]), {}).status_code == 404
    assert c.post(reverse("registry:consent_withdraw", args=[consent.pk])).status_code == 404
    consent.refresh_from_db()
    assert consent.withdrawn_at is None
    # a viewer sees the consents but no forms
    services.consent_grant(person=person, purpose="sms", method="verbal")
    html = _login(data["reader"]).get(reverse("registry:household", args=[data["hh"].uuid]))
    text = html.content.decode()
    assert "短信通知" in text and "记录同意" not in text
