"""Who manages whom (ADR 0006): services, API and pages."""

from __future__ import annotations

import pytest
from django.test import Client

from cunzhan.accounts.models import ApiToken, Assignment, User
from cunzhan.accounts.roles import Role, manageable_roles
from cunzhan.accounts.selectors import user_by_token
from cunzhan.accounts.services import (
    api_token_create,
    api_token_revoke,
    user_assignments_set,
    user_create,
    user_deactivate,
    user_password_reset,
    user_password_set,
    user_reactivate,
    user_update,
)
from cunzhan.core.errors import ApplicationError, NotFound, PermissionDenied, Unprocessable
from cunzhan.core.models import AuditEvent


@pytest.fixture
def people(regions, make_user):
    return {
        "admin": make_user(Role.NETWORK_ADMIN, username="admin"),
        "cm": make_user(Role.COUNTY_MANAGER, regions=["520204"], username="cm"),
        "driver": make_user(Role.DRIVER, regions=["520204106"], username="drv-in"),
        "driver_out": make_user(Role.DRIVER, regions=["520203"], username="drv-out"),
        "officer": make_user(Role.REGISTRY_OFFICER, regions=["520204"], username="ro-in"),
    }


def test_manageable_roles(people):
    assert manageable_roles(people["admin"]) == frozenset(Role.values)
    assert manageable_roles(people["cm"]) == {Role.STATION_OPERATOR, Role.DRIVER}
    assert Role.manageable_roles(people["driver"]) == frozenset()


def test_county_manager_cannot_create_an_admin_auditor_or_officer(people):
    for role in (Role.NETWORK_ADMIN, Role.AUDITOR, Role.REGISTRY_OFFICER):
        with pytest.raises(PermissionDenied) as exc:
            user_create(
                username=f"x-{role}", role=role, region_codes=["520204"], actor=people["cm"]
            )
        assert exc.value.code == "role_not_allowed"
    assert not User.objects.filter(username__startswith="x-").exists()


def test_county_manager_cannot_assign_outside_their_county(people):
    for codes in (["520203"], ["5202"], ["530102"], ["520204", "520203101"]):
        with pytest.raises(ApplicationError) as exc:
            user_create(username="d2", role=Role.DRIVER, region_codes=codes, actor=people["cm"])
        assert exc.value.code == "assignment_out_of_scope"
    assert not User.objects.filter(username="d2").exists()
    user, password = user_create(
        username="d2", role=Role.DRIVER, region_codes=["520204106"], actor=people["cm"]
    )
    assert password and user.check_password(password)


def test_admin_can_create_any_role_anywhere(people):
    user, _ = user_create(
        username="aud", role=Role.AUDITOR, region_codes=["53"], actor=people["admin"]
    )
    assert user.role == Role.AUDITOR


def test_out_of_scope_and_unmanageable_users_are_not_found(people):
    cm = people["cm"]
    for target in ("driver_out", "officer", "admin"):
        with pytest.raises(NotFound):
            user_update(actor=cm, user=people[target], display_name="x")
    user_update(actor=cm, user=people["driver"], display_name="新名字", phone="13800000000")
    people["driver"].refresh_from_db()
    assert people["driver"].display_name == "新名字"


def test_role_change_within_the_rule_and_not_of_oneself(people):
    cm, admin = people["cm"], people["admin"]
    user_update(actor=cm, user=people["driver"], role=Role.STATION_OPERATOR)
    with pytest.raises(PermissionDenied):
        user_update(actor=cm, user=people["driver"], role=Role.NETWORK_ADMIN)
    with pytest.raises(ApplicationError) as exc:
        user_update(actor=admin, user=admin, role=Role.DRIVER)
    assert exc.value.code == "own_role"


def test_assignments_set_inside_scope_and_at_least_one(people):
    cm, driver = people["cm"], people["driver"]
    with pytest.raises(ApplicationError) as exc:
        user_assignments_set(actor=cm, user=driver, region_codes=[])
    assert exc.value.code == "assignment_required"
    with pytest.raises(ApplicationError) as exc:
        user_assignments_set(actor=cm, user=driver, region_codes=["520203"])
    assert exc.value.code == "assignment_out_of_scope"
    user_assignments_set(actor=cm, user=driver, region_codes=["520204", "520204106"])
    assert set(Assignment.objects.filter(user=driver).values_list("region_id", flat=True)) == {
        "520204",
        "520204106",
    }
    event = AuditEvent.objects.filter(object_id=str(driver.pk), note="assignments").get()
    assert event.after["regions"] == ["520204", "520204106"]


def test_deactivated_user_cannot_log_in_nor_use_a_token(people):
    driver = people["driver"]
    _, key = api_token_create(user=driver)
    assert user_by_token(key) == driver
    user_deactivate(actor=people["cm"], user=driver)
    assert user_by_token(key) is None
    client = Client()
    assert (
        client.post("/login/", {"username": "drv-in", "password": "pw-secret-1"}).status_code == 200
    )
    assert "_auth_user_id" not in client.session
    assert Client(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/v1/accounts/me").status_code == 401
    assert AuditEvent.objects.filter(action="deactivate", object_id=str(driver.pk)).exists()
    user_reactivate(actor=people["cm"], user=driver)
    assert user_by_token(key) == driver
    assert (
        Client().post("/login/", {"username": "drv-in", "password": "pw-secret-1"}).status_code
        == 302
    )


def test_admin_cannot_deactivate_themselves(people):
    with pytest.raises(ApplicationError) as exc:
        user_deactivate(actor=people["admin"], user=people["admin"])
    assert exc.value.code == "self_deactivate"
    assert User.objects.get(pk=people["admin"].pk).is_active


def test_password_reset_returns_a_new_password_not_audited_in_clear(people):
    password = user_password_reset(actor=people["cm"], user=people["driver"])
    people["driver"].refresh_from_db()
    assert people["driver"].check_password(password)
    assert not people["driver"].check_password("pw-secret-1")
    event = AuditEvent.objects.get(action="password_reset", object_id=str(people["driver"].pk))
    assert password not in str(event.after) + str(event.before) + event.note


def test_token_revoke_own_or_admin(people):
    token, key = api_token_create(user=people["driver"])
    with pytest.raises(NotFound):
        api_token_revoke(actor=people["cm"], token=token)
    api_token_revoke(actor=people["admin"], token=token)
    assert user_by_token(key) is None
    with pytest.raises(ApplicationError):
        api_token_revoke(actor=people["driver"], token=ApiToken.objects.get(pk=token.pk))


# --- API ---------------------------------------------------------------------------------------


def test_api_county_manager_lists_and_creates_in_scope(people, api_client):
    client = api_client(people["cm"])
    body = client.get("/api/v1/accounts/users").json()
    assert {u["username"] for u in body["items"]} == {"drv-in"}
    assert body["items"][0]["assignments"][0]["region_code"] == "520204106"
    assert client.get("/api/v1/accounts/users?role=auditor").json()["count"] == 0
    assert client.get("/api/v1/accounts/users?active=false").json()["count"] == 0
    assert client.get("/api/v1/accounts/users?region=520204").json()["count"] == 1
    for region in ("52a", "%C2%B2", "５２０２"):  # no code: nobody, like any other bad code
        r = client.get(f"/api/v1/accounts/users?region={region}")
        assert r.status_code == 200 and r.json()["count"] == 0, (region, r.content)
    r = client.post(
        "/api/v1/accounts/users",
        {"username": "new-drv", "role": "driver", "region_codes": ["520204"]},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["password"]
    bad = client.post(
        "/api/v1/accounts/users",
        {"username": "new-adm", "role": "network_admin", "region_codes": ["520204"]},
        content_type="application/json",
    )
    assert bad.status_code == 403
    assert set(bad.json()) == {"code", "message", "details"}
    out = people["driver_out"].pk
    assert client.get(f"/api/v1/accounts/users/{out}").status_code == 404
    assert (
        client.patch(
            f"/api/v1/accounts/users/{out}", {"display_name": "x"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert client.get("/api/v1/accounts/users/99999999999999999999").status_code in (404, 422)


def test_api_patch_deactivate_reset_and_tokens(people, api_client):
    client = api_client(people["admin"])
    uid = people["driver"].pk
    r = client.patch(
        f"/api/v1/accounts/users/{uid}",
        {"display_name": "王师傅", "region_codes": ["520203"]},
        content_type="application/json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["display_name"] == "王师傅"
    assert [a["region_code"] for a in r.json()["assignments"]] == ["520203"]
    assert client.post(f"/api/v1/accounts/users/{uid}/deactivate").json()["is_active"] is False
    again = client.post(f"/api/v1/accounts/users/{uid}/deactivate")
    assert (again.status_code, again.json()["code"]) == (409, "already_inactive")
    assert client.post(f"/api/v1/accounts/users/{uid}/reactivate").json()["is_active"] is True
    again = client.post(f"/api/v1/accounts/users/{uid}/reactivate")
    assert (again.status_code, again.json()["code"]) == (409, "already_active")
    pw = client.post(f"/api/v1/accounts/users/{uid}/reset-password").json()["password"]
    assert User.objects.get(pk=uid).check_password(pw)
    own = client.get("/api/v1/accounts/tokens").json()
    assert own["count"] == 1
    tid = own["items"][0]["id"]
    other, _ = api_token_create(user=people["driver"])
    driver_client = api_client(people["driver"])
    # the driver holds a one-time password now: no API use until they have chosen their own
    refused = driver_client.delete(f"/api/v1/accounts/tokens/{tid}")
    assert refused.status_code == 403
    assert refused.json()["code"] == "password_change_required"
    user_password_set(user=User.objects.get(pk=uid), password="Driver-own-pw-7")
    assert driver_client.delete(f"/api/v1/accounts/tokens/{tid}").status_code == 404
    assert client.delete(f"/api/v1/accounts/tokens/{other.pk}").json()["revoked_at"]
    assert client.delete(f"/api/v1/accounts/tokens/{tid}").status_code == 200
    assert client.get("/api/v1/accounts/tokens").status_code == 401


def test_api_user_rules_in_the_schema_422_and_state_409(people, api_client):
    """ADR 0032: a rule about one value (the role, the phone) is in the published schema
    (422 validation_error); unknown assignment targets, a missing assignment and one's
    own role are 422 with their code; a taken username is a conflict (409)."""
    client = api_client(people["admin"])

    def create(**body):
        body = {"username": "u-new", "role": "driver", "region_codes": ["520204"], **body}
        return client.post("/api/v1/accounts/users", body, content_type="application/json")

    def patch(uid, **body):
        return client.patch(f"/api/v1/accounts/users/{uid}", body, content_type="application/json")

    for bad in ({"role": ""}, {"role": "king"}, {"phone": "call me"}, {"phone": "+"}):
        r = create(**bad)
        assert (r.status_code, r.json()["code"]) == (422, "validation_error"), bad
        r = patch(people["driver"].pk, **bad)
        assert (r.status_code, r.json()["code"]) == (422, "validation_error"), bad
    r = create(region_codes=["999999"])
    assert (r.status_code, r.json()["code"]) == (422, "invalid_assignment")
    r = create(region_codes=[], station_ids=[4611686018427387903])
    assert (r.status_code, r.json()["code"]) == (422, "invalid_assignment")
    r = create(region_codes=[])
    assert (r.status_code, r.json()["code"]) == (422, "assignment_required")
    r = patch(people["driver"].pk, region_codes=["999999"])
    assert (r.status_code, r.json()["code"]) == (422, "invalid_assignment")
    r = patch(people["driver"].pk, region_codes=[], station_ids=[])
    assert (r.status_code, r.json()["code"]) == (422, "assignment_required")
    r = patch(people["admin"].pk, role="driver")
    assert (r.status_code, r.json()["code"]) == (422, "own_role")
    r = client.post(f"/api/v1/accounts/users/{people['admin'].pk}/deactivate")
    assert (r.status_code, r.json()["code"]) == (422, "self_deactivate")
    r = create(username="DRV-IN")
    assert (r.status_code, r.json()["code"]) == (409, "username_taken")
    assert create(phone="138-0000-0000").status_code == 201


# --- pages -------------------------------------------------------------------------------------


def test_pages_create_edit_deactivate_reset(people):
    client = Client()
    client.force_login(people["cm"])
    page = client.get("/users/new/").content.decode()
    assert 'value="driver"' in page and 'value="network_admin"' not in page
    assert "/network/regions/search/" in page
    r = client.post(
        "/users/new/",
        {"username": "p-drv", "role": "driver", "region_codes": "520203"},
    )
    assert r.status_code == 400 and "errorlist" in r.content.decode()
    r = client.post(
        "/users/new/", {"username": "p-drv", "role": "driver", "region_codes": "520204106"}
    )
    assert r.status_code == 200
    new = User.objects.get(username="p-drv")
    assert "new-password" in r.content.decode()
    detail = client.get(f"/users/{new.pk}/").content.decode()
    assert "new-password" not in detail and "520204106" in detail
    r = client.post(
        f"/users/{new.pk}/edit/",
        {"display_name": "张三", "phone": "", "role": "driver", "region_codes": "520204"},
    )
    assert r.status_code == 302
    new.refresh_from_db()
    assert new.display_name == "张三"
    assert client.post(f"/users/{new.pk}/deactivate/").status_code == 302
    assert not User.objects.get(pk=new.pk).is_active
    r = client.post(f"/users/{new.pk}/reset-password/")
    assert "new-password" in r.content.decode()
    assert client.get(f"/users/{people['driver_out'].pk}/").status_code == 404
    listing = client.get("/users/?role=driver").content.decode()
    assert "p-drv" in listing and "drv-out" not in listing


def test_my_account_tokens_and_password(people):
    client = Client()
    client.force_login(people["driver"])
    assert client.get("/users/").status_code == 403
    assert "我的账号" in client.get("/account/").content.decode()
    r = client.post("/account/tokens/", {"name": "手机"})
    body = r.content.decode()
    assert "new-token" in body
    token = ApiToken.objects.get(user=people["driver"], name="手机")
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    bad = client.post(
        "/account/password/",
        {"old_password": "nope", "new_password1": "Abc-12345-x", "new_password2": "Abc-12345-x"},
    )
    assert bad.status_code == 400
    ok = client.post(
        "/account/password/",
        {
            "old_password": "pw-secret-1",
            "new_password1": "Abc-12345-x",
            "new_password2": "Abc-12345-x",
        },
    )
    assert ok.status_code == 302
    assert User.objects.get(pk=people["driver"].pk).check_password("Abc-12345-x")
    assert client.get("/account/").status_code == 200  # session kept
    assert AuditEvent.objects.filter(action="password_change", actor_name="drv-in").exists()


def test_no_one_resets_their_own_password(people, api_client):
    """A reset of one's own password set a one-time password and shut the actor's own
    API token out: refused, with the way to the password page in the message."""
    admin = people["admin"]
    before = admin.password
    with pytest.raises(Unprocessable) as exc:
        user_password_reset(actor=admin, user=admin)
    assert exc.value.code == "own_password"
    admin.refresh_from_db()
    assert admin.password == before and not admin.password_change_required
    r = api_client(admin).post(f"/api/v1/accounts/users/{admin.pk}/reset-password")
    assert r.status_code == 422 and r.json()["code"] == "own_password"
