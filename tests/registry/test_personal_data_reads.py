"""Every read of a household's record is audit-logged as a personal-data read."""

from __future__ import annotations

from cunzhan.accounts.roles import Role
from cunzhan.core.models import AuditEvent
from tests.factories.registry import make_household


def test_opening_a_household_page_or_api_record_is_logged(client, api_client, make_user, regions):
    household = make_household()
    auditor = make_user(Role.AUDITOR, regions=["5202"])
    client.force_login(auditor)
    assert client.get(f"/registry/households/{household.uuid}/").status_code == 200
    assert (
        api_client(auditor).get(f"/api/v1/registry/households/{household.uuid}").status_code == 200
    )
    reads = AuditEvent.objects.filter(
        action="read", object_type="registry.Household", object_id=str(household.uuid)
    )
    assert reads.count() == 2
    assert {e.actor_name for e in reads} == {auditor.username}
    assert all(e.personal_data for e in reads)
    assert {e.note for e in reads} == {"household record (page)", "household record (api)"}


def test_a_list_page_is_not_a_record_read(client, make_user, regions):
    make_household()
    officer = make_user(Role.REGISTRY_OFFICER, regions=["5202"])
    client.force_login(officer)
    client.get("/registry/households/")
    assert not AuditEvent.objects.filter(action="read", object_type="registry.Household").exists()


def test_opening_a_person_edit_page_or_consents_is_logged(client, api_client, make_user, regions):
    from tests.factories.registry import make_person

    household = make_household()
    person = make_person(household=household)
    officer = make_user(Role.REGISTRY_OFFICER, regions=["5202"])
    client.force_login(officer)
    assert client.get(f"/registry/persons/{person.uuid}/edit/").status_code == 200
    assert (
        api_client(officer).get(f"/api/v1/registry/persons/{person.uuid}/consents").status_code
        == 200
    )
    notes = set(
        AuditEvent.objects.filter(
            action="read", object_type="registry.Person", object_id=str(person.uuid)
        ).values_list("note", flat=True)
    )
    assert notes == {"person record (edit page)", "person record (api consents)"}
