"""Passwords (issue 12, part 2): Django's validators wherever a password is set, and
one-time passwords that work once and force a change at the first login."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import connection
from django.test import Client
from tests.factories.stations import make_station

from cunzhan.accounts.models import User
from cunzhan.accounts.roles import Role
from cunzhan.accounts.services import (
    user_create,
    user_password_reset,
    user_password_set,
)
from cunzhan.core.errors import ApplicationError
from cunzhan.core.models import AuditEvent
from cunzhan.network import services as network_services

TOKEN_URL = "/api/v1/accounts/token"
CHANGE_URL = "/account/password/"


@pytest.fixture
def manager(regions, make_user):
    return make_user(Role.COUNTY_MANAGER, regions=["520204"], username="cm")


@pytest.fixture
def newcomer(manager):
    """A driver created by a manager, with the one-time password the manager hands over."""
    user, password = user_create(
        username="newdrv", role=Role.DRIVER, region_codes=["520204"], actor=manager
    )
    return user, password


def _login(client: Client, username: str, password: str):
    return client.post("/login/", {"username": username, "password": password})


def _change(client: Client, old: str, new: str):
    return client.post(
        CHANGE_URL, {"old_password": old, "new_password1": new, "new_password2": new}
    )


# --- validators -------------------------------------------------------------------------------


def test_the_validators_are_djangos_four():
    names = {v["NAME"].rsplit(".", 1)[1] for v in settings.AUTH_PASSWORD_VALIDATORS}
    assert names == {
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    }


@pytest.mark.parametrize(
    "password",
    ["short-1", "password123", "12345678901234", "zhangsanfeng1"],
    ids=["too-short", "common", "numeric", "like-the-username"],
)
def test_a_weak_password_is_refused_at_user_creation(regions, password):
    with pytest.raises(ApplicationError) as exc:
        user_create(
            username="zhangsanfeng", role=Role.DRIVER, password=password, region_codes=["5202"]
        )
    assert exc.value.code == "weak_password"
    assert exc.value.details["errors"]
    assert not User.objects.filter(username="zhangsanfeng").exists()


def test_a_weak_password_is_refused_when_changing_it(regions, make_user):
    user = make_user(Role.DRIVER, regions=["5202"], username="drv")
    with pytest.raises(ApplicationError) as exc:
        user_password_set(user=user, password="12345678901234")
    assert exc.value.code == "weak_password"
    user.refresh_from_db()
    assert user.check_password("pw-secret-1")
    client = Client()
    client.force_login(user)
    r = _change(client, "pw-secret-1", "password123")
    assert r.status_code == 400
    assert User.objects.get(pk=user.pk).check_password("pw-secret-1")


def test_generated_one_time_passwords_pass_the_validators(newcomer, manager):
    user, password = newcomer
    validate_password(password, user)
    again = user_password_reset(actor=manager, user=user)
    validate_password(again, user)


# --- one-time passwords -------------------------------------------------------------------------


def test_a_one_time_password_forces_a_change_at_first_login(newcomer):
    user, password = newcomer
    assert user.password_change_required
    client = Client()
    r = _login(client, "newdrv", password)
    assert r.status_code == 302 and r.url == CHANGE_URL
    # nothing else is reachable until the password is changed
    assert client.get("/account/").url == CHANGE_URL
    assert client.get("/").url == CHANGE_URL
    htmx = client.get("/users/", HTTP_HX_REQUEST="true")
    assert htmx["HX-Redirect"] == CHANGE_URL
    page = client.get(CHANGE_URL)
    assert page.status_code == 200
    assert 'id="password-change-required"' in page.content.decode()
    # the one-time password cannot be kept as the new one
    same = _change(client, password, password)
    assert same.status_code == 400
    assert "新密码不能与当前密码相同" in same.content.decode()
    done = _change(client, password, "Wo-de-mima-2026")
    assert done.status_code == 302 and done.url == "/"
    assert client.get("/account/").status_code == 200
    user.refresh_from_db()
    assert not user.password_change_required
    # the one-time password is gone, the new one works
    assert _login(Client(), "newdrv", password).status_code == 200
    assert _login(Client(), "newdrv", "Wo-de-mima-2026").status_code == 302


def test_a_one_time_password_opens_one_session_only(newcomer):
    user, password = newcomer
    first = Client()
    assert _login(first, "newdrv", password).status_code == 302
    second = Client()
    r = _login(second, "newdrv", password)
    assert r.status_code == 200
    assert "_auth_user_id" not in second.session
    assert "一次性密码已经用过" in r.content.decode()
    event = AuditEvent.objects.get(action="login_failed")
    assert event.after["reason"] == "one_time_password_used"
    assert event.object_id == str(user.pk)
    # the first session can still choose a password
    assert _change(first, password, "Wo-de-mima-2026").status_code == 302


def test_the_api_refuses_tokens_until_the_one_time_password_is_changed(newcomer, api_client):
    user, password = newcomer
    r = Client().post(
        TOKEN_URL, {"username": "newdrv", "password": password}, content_type="application/json"
    )
    assert r.status_code == 403
    assert r.json()["code"] == "password_change_required"
    assert r.json()["message"]
    # a token the user held before a reset is refused too, with the same code
    client = api_client(user)
    assert client.get("/api/v1/accounts/me").json()["code"] == "password_change_required"
    user_password_set(user=user, password="Wo-de-mima-2026")
    assert client.get("/api/v1/accounts/me").status_code == 200
    ok = Client().post(
        TOKEN_URL,
        {"username": "newdrv", "password": "Wo-de-mima-2026"},
        content_type="application/json",
    )
    assert ok.status_code == 201


def test_a_password_reset_gives_a_one_time_password_again(newcomer, manager):
    user, _password = newcomer
    user_password_set(user=user, password="Wo-de-mima-2026")
    again = user_password_reset(actor=manager, user=user)
    user.refresh_from_db()
    assert user.password_change_required and user.one_time_password_used_at is None
    client = Client()
    assert _login(client, "newdrv", again).url == CHANGE_URL


def test_station_activation_hands_over_a_one_time_password(manager):
    station = make_station("520204106201", "approved")
    _station, operator, password = network_services.station_activate(
        station=station, actor=manager, operator_username="haiping"
    )
    assert operator.password_change_required
    assert _login(Client(), "haiping", password).url == CHANGE_URL


def test_an_own_chosen_password_is_not_one_time(regions, make_user):
    user = make_user(Role.DRIVER, regions=["5202"], username="drv")
    assert not user.password_change_required
    assert _login(Client(), "drv", "pw-secret-1").url == "/"


# --- the data check before the any-case unique constraint -----------------------------------


def test_the_data_check_migration_names_usernames_that_differ_only_in_case(regions):
    from importlib import import_module

    check = import_module(
        "cunzhan.accounts.migrations.0004_username_any_case_check"
    ).check_no_case_duplicates
    check(apps, None)  # nothing to report
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX accounts_user_username_any_case_uniq")
    User.objects.create(username="Alice", role=Role.NETWORK_ADMIN)
    User.objects.create(username="alice", role=Role.NETWORK_ADMIN)
    with pytest.raises(RuntimeError, match="Alice, alice"):
        check(apps, None)


def test_guessing_the_old_password_on_the_change_form_is_locked_out_and_audited(
    regions, make_user, settings
):
    settings.AXES_FAILURE_LIMIT = 3
    user = make_user(Role.DRIVER, regions=["5202"], username="drv")
    client = Client()
    client.force_login(user)
    for i in range(3):
        _change(client, f"guess-{i}", "Wo-de-mima-2026")
    r = _change(client, "pw-secret-1", "Wo-de-mima-2026")
    assert r.status_code == 429
    assert User.objects.get(pk=user.pk).check_password("pw-secret-1")
    assert AuditEvent.objects.filter(action="login_failed", object_id=str(user.pk)).count() == 4
