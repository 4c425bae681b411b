"""Accounts that resist attack (issue 12, part 2): lockout after repeated failures on the
login page and the token endpoint, every failure audited, case-insensitive usernames."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.test import Client, override_settings
from django.utils import timezone

from cunzhan.accounts.models import User
from cunzhan.accounts.roles import Role
from cunzhan.accounts.services import user_create
from cunzhan.core.errors import ApplicationError
from cunzhan.core.models import AuditEvent

TOKEN_URL = "/api/v1/accounts/token"


def _page_login(client: Client, username: str, password: str):
    return client.post("/login/", {"username": username, "password": password})


def _token(client: Client, username: str, password: str):
    return client.post(
        TOKEN_URL, {"username": username, "password": password}, content_type="application/json"
    )


@pytest.fixture
def driver(regions, make_user):
    return make_user(Role.DRIVER, regions=["5202"], username="drv")


# --- brute force -------------------------------------------------------------------------------


def test_fifty_wrong_passwords_then_the_right_one_is_refused_on_the_login_page(driver):
    client = Client()
    for i in range(50):
        _page_login(client, "drv", f"wrong-{i}")
    r = _page_login(client, "drv", "pw-secret-1")
    assert r.status_code == 429
    assert "_auth_user_id" not in client.session
    assert "登录失败次数过多" in r.content.decode()


def test_fifty_wrong_passwords_then_the_right_one_is_refused_on_the_token_endpoint(driver):
    client = Client()
    for i in range(50):
        _token(client, "drv", f"wrong-{i}")
    r = _token(client, "drv", "pw-secret-1")
    assert r.status_code == 429
    body = r.json()
    assert body["code"] == "locked_out"
    assert body["message"] and "retry_after_seconds" in body["details"]
    assert "token" not in body


@override_settings(AXES_FAILURE_LIMIT=5)
def test_lockout_starts_at_the_limit_and_counts_case_variants_together(driver):
    client = Client()
    for i, name in enumerate(["drv", "DRV", "Drv", "dRv"]):
        assert _page_login(client, name, f"wrong-{i}").status_code == 200
    assert _token(client, "drv", "wrong-5").status_code == 429
    assert _page_login(Client(), "drv", "pw-secret-1").status_code == 429


@override_settings(AXES_FAILURE_LIMIT=3)
def test_lockout_is_per_username_and_address_and_ends_after_the_cool_off(driver, settings):
    client = Client()
    for i in range(3):
        _page_login(client, "drv", f"wrong-{i}")
    assert _page_login(client, "drv", "pw-secret-1").status_code == 429
    # the same person from another address is not locked out by an attacker elsewhere
    other = Client(REMOTE_ADDR="10.1.2.3")
    assert _page_login(other, "drv", "pw-secret-1").status_code == 302
    # after the cool-off the right password works again from the first address
    later = timezone.now() + settings.AXES_COOLOFF_TIME + dt.timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        assert _page_login(Client(), "drv", "pw-secret-1").status_code == 302


def test_locked_out_message_is_translated(driver, settings):
    settings.AXES_FAILURE_LIMIT = 2
    client = Client()
    for i in range(2):
        _token(client, "drv", f"wrong-{i}")
    r = client.post(
        TOKEN_URL,
        {"username": "drv", "password": "pw-secret-1"},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert r.status_code == 429
    assert "Too many failed logins" in r.json()["message"]
    page = Client(HTTP_ACCEPT_LANGUAGE="en").post(
        "/login/", {"username": "drv", "password": "pw-secret-1"}
    )
    assert page.status_code == 429
    assert "Too many failed logins" in page.content.decode()


def test_force_login_is_not_affected_by_a_lockout(driver, settings):
    settings.AXES_FAILURE_LIMIT = 2
    for i in range(3):
        _page_login(Client(), "drv", f"wrong-{i}")
    client = Client()
    client.force_login(driver)
    assert client.get("/account/").status_code == 200


def test_token_endpoint_documents_the_lockout_status():
    from cunzhan.config.api import api

    schema = api.get_openapi_schema()
    responses = schema["paths"]["/api/v1/accounts/token"]["post"]["responses"]
    assert 429 in responses and "ErrorOut" in str(responses[429])


# --- audit ------------------------------------------------------------------------------------


def test_every_failed_login_is_audited_with_username_and_address_not_password(driver):
    _page_login(Client(REMOTE_ADDR="10.9.8.7"), "drv", "secret-guess-1")
    _token(Client(REMOTE_ADDR="10.9.8.6"), "nobody-here", "secret-guess-2")
    events = list(AuditEvent.objects.filter(action="login_failed").order_by("id"))
    assert [(e.object_repr, e.ip_address) for e in events] == [
        ("drv", "10.9.8.7"),
        ("nobody-here", "10.9.8.6"),
    ]
    assert events[0].object_id == str(driver.pk)
    assert events[0].region_code == "5202"
    assert events[1].object_id == ""
    for e in events:
        text = f"{e.before} {e.after} {e.note} {e.object_repr}"
        assert "secret-guess" not in text
    assert events[0].after["channel"] == "page" and events[1].after["channel"] == "api"


def test_failed_logins_during_a_lockout_are_audited_as_locked(driver, settings):
    settings.AXES_FAILURE_LIMIT = 2
    for i in range(3):
        _page_login(Client(), "drv", f"wrong-{i}")
    events = AuditEvent.objects.filter(action="login_failed").order_by("id")
    locked = [e.after["locked_out"] for e in events]
    assert locked == [False, True, True]


# --- usernames without regard to case --------------------------------------------------------


def test_usernames_are_unique_without_regard_to_case(regions):
    user_create(username="Alice", role=Role.DRIVER, password="pw-secret-1", region_codes=["5202"])
    with pytest.raises(ApplicationError) as exc:
        user_create(
            username="alice", role=Role.DRIVER, password="pw-secret-1", region_codes=["5202"]
        )
    assert exc.value.code == "username_taken"
    assert User.objects.filter(username__iexact="alice").count() == 1


def test_the_database_refuses_a_username_differing_only_in_case(regions):
    User.objects.create(username="Alice", role=Role.NETWORK_ADMIN)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="aLICE", role=Role.NETWORK_ADMIN)


def test_login_is_case_insensitive_on_the_page_and_the_api(regions):
    user_create(username="Alice", role=Role.DRIVER, password="pw-secret-1", region_codes=["5202"])
    client = Client()
    assert _page_login(client, "alice", "pw-secret-1").status_code == 302
    assert client.session["_auth_user_id"] == str(User.objects.get(username="Alice").pk)
    assert _token(Client(), "ALICE", "pw-secret-1").status_code == 201


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_successful_token_request_resets_the_count_like_a_page_login(driver):
    client = Client()
    for i in range(2):
        assert _token(client, "drv", f"wrong-{i}").status_code == 401
    assert _token(client, "drv", "pw-secret-1").status_code == 201
    for i in range(2):
        assert _token(client, "drv", f"wrong-again-{i}").status_code == 401
    assert _token(client, "drv", "pw-secret-1").status_code == 201
    driver.refresh_from_db()
    assert driver.last_login is not None


def test_the_lockout_records_keep_no_password(driver):
    from axes.models import AccessAttempt

    _page_login(Client(), "drv", "secret-guess-3")
    attempt = AccessAttempt.objects.get()
    assert attempt.username == "drv"
    assert "secret-guess-3" not in attempt.post_data + attempt.get_data
