"""The masked ID number is shown beside the birth year, the sex and the village: what is
shown together must not combine back into the number (issue 12, §3)."""

from __future__ import annotations

import calendar
import datetime as dt

from cunzhan.accounts.roles import Role
from cunzhan.registry.idcard import check_char
from tests.factories.registry import id_number, make_household, make_person

MIN_CANDIDATES = 1000


def candidates(masked: str, *, region: str, birth_year: int, sex: str) -> int:
    """How many valid numbers fit the mask, for an attacker who knows the county's
    region code (from the village), the birth year and the sex."""
    assert len(masked) == 18

    def fits(shown: str, text: str) -> bool:
        return all(m in ("*", c) for m, c in zip(shown, text, strict=True))

    if not fits(masked[:6], region):
        return 0
    sequences = [
        f"{seq:03d}"
        for seq in range(1000)
        if (seq % 2 == 1) == (sex == "male") and fits(masked[14:17], f"{seq:03d}")
    ]
    start = dt.date(birth_year, 1, 1)
    n = 0
    for d in range(366 if calendar.isleap(birth_year) else 365):
        born = f"{start + dt.timedelta(days=d):%Y%m%d}"
        if not fits(masked[6:14], born):
            continue
        for seq in sequences:
            first17 = f"{region}{born}{seq}"
            n += masked[17] in ("*", check_char(first17))
    return n


def test_the_api_person_record_does_not_narrow_the_number(api_client, make_user, regions):
    household = make_household()
    number = id_number(born=dt.date(1975, 3, 9), sex="female")
    make_person(household=household, sex="female", birth_year=1975, id_number_value=number)
    officer = make_user(Role.REGISTRY_OFFICER, regions=["5202"])
    r = api_client(officer).get(f"/api/v1/registry/households/{household.uuid}")
    assert r.status_code == 200
    body = r.json()
    member = body["members"][0]
    shown = member["id_number_masked"]
    assert number not in r.content.decode()
    count = candidates(
        shown,
        region=body["village_code"][:6],
        birth_year=member["birth_year"],
        sex=member["sex"],
    )
    assert count >= MIN_CANDIDATES, f"{shown} + birth year + sex -> {count} candidates"


def test_the_household_page_does_not_narrow_the_number(client, make_user, regions):
    household = make_household()
    number = id_number(born=dt.date(1990, 11, 30), sex="male")
    person = make_person(household=household, birth_year=1990, id_number_value=number)
    officer = make_user(Role.REGISTRY_OFFICER, regions=["5202"])
    client.force_login(officer)
    html = client.get(f"/registry/households/{household.uuid}/").content.decode()
    assert person.id_masked in html and "1990" in html
    assert number[-4:] not in person.id_masked
    assert candidates(person.id_masked, region="520204", birth_year=1990, sex="male") >= (
        MIN_CANDIDATES
    )


def test_the_audit_log_keeps_no_piece_of_the_number(regions):
    """The audit snapshot of a person beside the birth year would narrow the number just
    as a wide mask would: no last four characters in it, and the narrow mask."""
    from cunzhan.core.models import AuditEvent

    household = make_household()
    number = id_number(born=dt.date(1975, 3, 9), sex="female")
    make_person(household=household, sex="female", birth_year=1975, id_number_value=number)
    snaps = [
        s
        for e in AuditEvent.objects.filter(object_type="registry.Person")
        for s in (e.before, e.after)
        if s
    ]
    assert snaps
    for snap in snaps:
        assert "id_last4" not in snap
        assert number[-4:] not in str(snap) and number[:6] not in str(snap)


def test_old_audit_snapshots_are_scrubbed_by_the_migration(regions):
    """Rows written before the fix (last four, wide mask) are narrowed by migration 0004."""
    import importlib

    from django.apps import apps

    from cunzhan.core.audit import audit_record

    scrub = importlib.import_module("cunzhan.registry.migrations.0004_audit_person_id_scrub")
    audit_record(
        action="create",
        object_type="registry.Person",
        object_id="1",
        after={
            "name": "测试",
            "birth_year": 1975,
            "id_last4": "005X",
            "id_masked": "5202**********005X",
        },
    )
    scrub.scrub(apps, None)
    from cunzhan.core.models import AuditEvent

    after = AuditEvent.objects.get(object_type="registry.Person", object_id="1").after
    assert after == {"name": "测试", "birth_year": 1975, "id_masked": "52**************5X"}
