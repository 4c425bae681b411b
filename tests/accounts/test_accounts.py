from __future__ import annotations

import pytest

from cunzhan.accounts.roles import Perm, Role
from cunzhan.accounts.selectors import scope_for_user, user_by_token
from cunzhan.accounts.services import api_token_create, user_create
from cunzhan.core.errors import ApplicationError
from cunzhan.core.models import AuditEvent


def test_network_admin_sees_the_whole_country(make_user):
    admin = make_user(Role.NETWORK_ADMIN)
    assert scope_for_user(admin).everything


def test_county_manager_scope_is_the_assigned_subtrees(regions, make_user):
    manager = make_user(Role.COUNTY_MANAGER, regions=["520204", "5202"])
    scope = scope_for_user(manager)
    assert scope.prefixes == ("5202",)
    assert scope.contains_code("520203101201")
    assert not scope.contains_code("530102")


def test_non_admin_needs_an_assignment(regions):
    with pytest.raises(ApplicationError) as exc:
        user_create(username="x", role=Role.DRIVER, password="pw-secret-1")
    assert exc.value.code == "assignment_required"


def test_unknown_region_in_assignment_is_refused_and_nothing_is_written(regions):
    with pytest.raises(ApplicationError) as exc:
        user_create(username="x", role=Role.DRIVER, password="pw-secret-1", region_codes=["999999"])
    assert exc.value.code == "invalid_assignment"
    from cunzhan.accounts.models import User

    assert not User.objects.filter(username="x").exists()


def test_roles_grant_the_expected_permissions(make_user, regions):
    auditor = make_user(Role.AUDITOR, regions=["52"])
    officer = make_user(Role.REGISTRY_OFFICER, regions=["52"])
    assert auditor.can(Perm.VIEW_AUDIT) and not auditor.can(Perm.EDIT_REGISTRY)
    assert officer.can(Perm.VIEW_ID_NUMBERS) and not officer.can(Perm.VIEW_AUDIT)


def test_tokens_are_stored_hashed_and_can_be_revoked(make_user, regions):
    user = make_user(Role.DRIVER, regions=["5202"])
    token, key = api_token_create(user=user)
    assert key not in token.key_hash and token.key_hash != key
    assert user_by_token(key) == user
    token.revoked_at = token.created_at
    token.save(update_fields=["revoked_at"])
    assert user_by_token(key) is None


def test_user_creation_is_audited_without_the_password(regions):
    user, password = user_create(username="d1", role=Role.DRIVER, region_codes=["5202"])
    event = AuditEvent.objects.get(object_type="accounts.User", object_id=str(user.pk))
    assert event.action == "create"
    assert "password" not in event.after
    assert password not in str(event.after)


def test_token_endpoint_and_me(client, regions, make_user):
    make_user(Role.COUNTY_MANAGER, regions=["520204"], username="mgr")
    bad = client.post(
        "/api/v1/accounts/token",
        {"username": "mgr", "password": "wrong"},
        content_type="application/json",
    )
    assert bad.status_code == 401
    assert bad.json()["code"] == "bad_credentials"
    ok = client.post(
        "/api/v1/accounts/token",
        {"username": "mgr", "password": "pw-secret-1"},
        content_type="application/json",
    )
    assert ok.status_code == 201
    key = ok.json()["token"]
    me = client.get("/api/v1/accounts/me", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert me.status_code == 200
    assert me.json()["region_codes"] == ["520204"]
    assert me.json()["role"] == "county_manager"


def test_users_list_is_scoped_for_county_managers(api_client, make_user, regions):
    mgr = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    assert api_client(mgr).get("/api/v1/accounts/users").json()["count"] == 0
    admin = make_user(Role.NETWORK_ADMIN)
    body = api_client(admin).get("/api/v1/accounts/users").json()
    assert body["count"] == 2
    assert {u["username"] for u in body["items"]} == {mgr.username, admin.username}


def test_login_page_logs_in_and_records_the_login(client, make_user, regions):
    make_user(Role.DRIVER, regions=["5202"], username="drv")
    page = client.post("/login/", {"username": "drv", "password": "pw-secret-1"})
    assert page.status_code == 302
    assert AuditEvent.objects.filter(action="login", actor_name="drv").exists()
    client.logout()
    bad = client.post("/login/", {"username": "drv", "password": "nope"})
    assert bad.status_code == 200
    assert "errorlist" in bad.content.decode()


def test_user_created_with_a_precomputed_hash_logs_in_with_that_password(regions):
    from django.contrib.auth.hashers import make_password

    encoded = make_password("shared-initial-pw")
    user, password = user_create(
        username="bulk1", role=Role.DRIVER, password_hash=encoded, region_codes=["5202"]
    )
    assert password == ""
    assert user.check_password("shared-initial-pw")
    with pytest.raises(ApplicationError) as exc:
        user_create(
            username="bulk2", role=Role.DRIVER, password_hash="nonsense", region_codes=["5202"]
        )
    assert exc.value.code == "invalid_password_hash"
