from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from cunzhan.accounts.roles import Role
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.models import AuditEvent
from cunzhan.core.scope import RegionScope
from cunzhan.registry import selectors, services
from cunzhan.registry.models import Person
from tests.factories.registry import id_number, make_household, make_person

pytestmark = pytest.mark.django_db


def test_household_needs_a_village_in_scope(regions):
    scope = RegionScope.for_regions(["520204"])
    hh = services.household_create(scope=scope, village_code="520204106201", address="1组")
    assert hh.number == "0001"
    assert services.household_create(scope=scope, village_code="520204106201").number == "0002"
    for code in ("520203101201", "999999999999", "abc"):
        with pytest.raises(ApplicationError) as exc:
            services.household_create(scope=scope, village_code=code)
        assert exc.value.code == "invalid_village"
    with pytest.raises(ApplicationError) as exc:
        services.household_create(scope=scope, village_code="520204106")
    assert exc.value.code == "invalid_village"
    assert "村级" in exc.value.message


def test_household_number_unique_per_village(regions):
    make_household(number="7")
    with pytest.raises(ApplicationError) as exc:
        make_household(number="7")
    assert exc.value.code == "duplicate_household_number"
    make_household(village="520204106202", number="7")


def test_id_number_is_encrypted_at_rest_and_never_in_the_audit_log(regions):
    hh = make_household()
    number = id_number(born=dt.date(1975, 3, 9), sex="female")
    person = make_person(
        household=hh, name="李梅", sex="female", birth_year=1975, id_number_value=number
    )
    with connection.cursor() as cur:
        cur.execute("SELECT * FROM registry_person WHERE id = %s", [person.pk])
        row = cur.fetchone()
    flat = " ".join(str(v) for v in row)
    assert number not in flat
    assert number[6:14] not in flat  # not even the birth date part
    assert person.id_masked == number[:2] + "*" * 14 + number[-2:]
    assert person.id_last4 == number[-4:]
    for ev in AuditEvent.objects.all():
        assert number not in str(ev.before) + str(ev.after) + ev.note + ev.object_repr
    ev = AuditEvent.objects.get(object_type="registry.Person", action="create")
    assert ev.after["id_masked"] == person.id_masked
    assert "id_number_enc" not in ev.after and "id_number_index" not in ev.after
    assert ev.personal_data


def test_duplicate_id_number_anywhere_is_rejected(regions):
    number = id_number()
    make_person(household=make_household(), id_number_value=number)
    other = make_household(village="520204106202")
    with pytest.raises(ApplicationError) as exc:
        make_person(household=other, name="王五", id_number_value=number, relation="child")
    assert exc.value.code == "duplicate_id_number"
    assert exc.value.details["field"] == "id_number"


def test_person_fields_checked_against_the_id_number(regions):
    hh = make_household()
    number = id_number(born=dt.date(1980, 1, 1), sex="male")
    with pytest.raises(ApplicationError) as exc:
        services.person_create(
            household=hh, name="甲", sex="male", relation="head", birth_year=1981, id_number=number
        )
    assert exc.value.code == "id_birth_year_mismatch"
    with pytest.raises(ApplicationError) as exc:
        services.person_create(
            household=hh, name="甲", sex="female", relation="head", id_number=number
        )
    assert exc.value.code == "id_sex_mismatch"
    p = services.person_create(
        household=hh, name="甲", sex="male", relation="head", id_number=number
    )
    assert p.birth_year == 1980  # taken from the number
    with pytest.raises(ApplicationError) as exc:
        services.person_create(
            household=hh, name="乙", sex="male", relation="head", birth_year=1990
        )
    assert exc.value.code == "duplicate_head"
    with pytest.raises(ApplicationError) as exc:
        services.person_create(household=hh, name="", sex="male", relation="child", birth_year=1990)
    assert exc.value.details["field"] == "name"
    with pytest.raises(ApplicationError) as exc:
        services.person_create(household=hh, name="丙", sex="x", relation="child", birth_year=1990)
    assert exc.value.details["field"] == "sex"
    with pytest.raises(ApplicationError) as exc:
        services.person_create(
            household=hh, name="丙", sex="male", relation="child", birth_year=1990, id_number="123"
        )
    assert exc.value.code == "invalid_id_number"
    assert exc.value.details == {"rule": "length", "field": "id_number"}


def test_person_update_reports_change_and_keeps_number_when_omitted(regions):
    hh = make_household()
    p = make_person(household=hh, phone="13800000000")
    enc = p.id_number_enc
    p2, changed = services.person_update(
        person=p,
        name=p.name,
        sex=p.sex,
        relation=p.relation,
        birth_year=p.birth_year,
        phone="13800000000",
    )
    assert not changed and p2.id_number_enc == enc
    _p, changed = services.person_update(
        person=p,
        name="张叁",
        sex=p.sex,
        relation=p.relation,
        birth_year=p.birth_year,
        phone="13800000000",
    )
    assert changed
    ev = AuditEvent.objects.filter(object_type="registry.Person", action="update").get()
    assert ev.before == {"name": "张三"} and ev.after == {"name": "张叁"}


def test_poverty_register_and_exit(regions):
    hh = make_household()
    reg, created = services.poverty_register(
        household=hh, year_registered=2014, main_cause="illness"
    )
    assert created and reg.year_exited is None
    _reg, changed = services.poverty_register(
        household=hh, year_registered=2014, main_cause="illness"
    )
    assert not changed
    with pytest.raises(ApplicationError) as exc:
        services.poverty_exit(household=hh, year_exited=2013)
    assert exc.value.code == "exit_before_registration"
    reg = services.poverty_exit(household=hh, year_exited=2018)
    assert reg.year_exited == 2018
    with pytest.raises(ApplicationError) as exc:
        services.poverty_exit(household=hh, year_exited=2019)
    assert exc.value.code == "already_exited"
    with pytest.raises(ApplicationError) as exc:
        services.poverty_register(household=hh, year_registered=2014, main_cause="luck")
    assert exc.value.details["field"] == "main_cause"
    assert AuditEvent.objects.filter(object_type="registry.PovertyRegistration").count() == 2


def test_income_record_set_upserts(regions):
    hh = make_household()
    rec, changed = services.income_record_set(
        household=hh, year=2023, source="wages", amount_fen=1_200_000
    )
    assert changed
    rec2, changed = services.income_record_set(
        household=hh, year=2023, source="wages", amount_fen=1_500_000
    )
    assert changed and rec2.pk == rec.pk and rec2.amount_fen == 1_500_000
    _r, changed = services.income_record_set(
        household=hh, year=2023, source="wages", amount_fen=1_500_000
    )
    assert not changed
    with pytest.raises(ApplicationError):
        services.income_record_set(household=hh, year=2023, source="wages", amount_fen=-1)
    with pytest.raises(ApplicationError):
        services.income_record_set(household=hh, year=2023, source="lottery", amount_fen=1)


def test_consent_grant_and_withdraw(regions):
    person = make_person(household=make_household())
    c = services.consent_grant(person=person, purpose="sms", method="paper")
    assert services.consent_grant(person=person, purpose="sms", method="paper").pk == c.pk
    services.consent_withdraw(consent=c)
    with pytest.raises(ApplicationError) as exc:
        services.consent_withdraw(consent=c)
    assert exc.value.code == "already_withdrawn"
    assert services.consent_grant(person=person, purpose="sms", method="phone").pk != c.pk


def test_id_number_reveal_is_permission_checked_and_audited(regions, make_user):
    number = id_number()
    person = make_person(household=make_household(), id_number_value=number)
    officer = make_user(Role.REGISTRY_OFFICER, regions=["520204"])
    operator = make_user(Role.STATION_OPERATOR, regions=["520204"])
    outsider = make_user(Role.REGISTRY_OFFICER, regions=["520203"])
    scope = RegionScope.for_regions(["520204"])
    assert selectors.person_id_number(scope=scope, user=operator, person=person) == person.id_masked
    assert not AuditEvent.objects.filter(action="read").exists()
    assert selectors.person_id_number(scope=scope, user=officer, person=person) == number
    ev = AuditEvent.objects.get(action="read")
    assert ev.personal_data and ev.actor == officer and ev.object_id == str(person.uuid)
    with pytest.raises(NotFound):
        selectors.person_id_number(
            scope=RegionScope.for_regions(["520203"]), user=outsider, person=person
        )


def test_household_list_filters(regions):
    a = make_household(address="海坪1组")
    make_person(household=a, name="杨光")
    b = make_household(village="520204106202")
    make_person(household=b, name="龙飞", birth_year=1970)
    c = make_household(village="520203101201")
    services.poverty_register(household=b, year_registered=2015, main_cause="water")
    scope = RegionScope.for_regions(["520204"])
    assert {h.pk for h in selectors.household_list(scope=scope)} == {a.pk, b.pk}
    assert [h.pk for h in selectors.household_list(scope=scope, poor_only=True)] == [b.pk]
    assert [h.pk for h in selectors.household_list(scope=scope, q="杨")] == [a.pk]
    assert [h.pk for h in selectors.household_list(scope=scope, region="520204106202")] == [b.pk]
    assert list(selectors.household_list(scope=scope, region="5203")) == []
    with pytest.raises(NotFound):
        selectors.household_get(scope=scope, household_id=c.uuid)
    h = selectors.household_list(scope=scope, q="杨").get()
    assert h.member_count == 1 and h.heads[0].name == "杨光"
    assert Person.objects.count() == 2
