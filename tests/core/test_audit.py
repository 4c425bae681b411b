from __future__ import annotations

from cunzhan.accounts.roles import Role
from cunzhan.core.audit import audit_event_list, audit_record
from cunzhan.core.scope import RegionScope


def test_audit_keeps_only_changed_fields(db):
    event = audit_record(
        action="update",
        object_type="x.Y",
        object_id=1,
        before={"a": 1, "b": 2, "updated_at": "t1"},
        after={"a": 1, "b": 3, "updated_at": "t2"},
    )
    assert event.before == {"b": 2}
    assert event.after == {"b": 3}
    assert event.actor_name == "system"


def test_audit_list_is_scoped_by_region(db):
    audit_record(action="create", object_type="x.Y", object_id=1, region_code="520204106201")
    audit_record(action="create", object_type="x.Y", object_id=2, region_code="530102001001")
    audit_record(action="create", object_type="x.Y", object_id=3)
    mine = audit_event_list(scope=RegionScope.for_regions(["5202"]))
    assert [e.object_id for e in mine] == ["1"]
    assert audit_event_list(scope=RegionScope.national()).count() == 3


def test_audit_page_is_for_auditors_and_filters(client, make_user, regions):
    auditor = make_user(Role.AUDITOR, regions=["5202"])
    driver = make_user(Role.DRIVER, regions=["5202"])
    audit_record(
        action="read",
        object_type="registry.Person",
        object_id=7,
        region_code="520204106201",
        personal_data=True,
    )
    audit_record(
        action="update", object_type="network.Station", object_id=8, region_code="520204106201"
    )
    client.force_login(driver)
    assert client.get("/audit/").status_code == 403
    client.force_login(auditor)
    page = client.get("/audit/", {"personal_data": "1"}).content.decode()
    assert "registry.Person" in page
    assert "network.Station" not in page
