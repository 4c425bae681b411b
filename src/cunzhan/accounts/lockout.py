"""The login lockout's hooks for django-axes (settings ``AXES_*``) and the audit of every
failed login. Axes counts failures per lower-cased username and client address, on the
login page and on the API token endpoint (both authenticate through
``django.contrib.auth.authenticate`` with the request)."""

from __future__ import annotations

import math
from typing import Any

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from cunzhan.core.middleware import client_ip

API_PREFIX = "/api/"


def lockout_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The username axes counts under: lower-cased, since usernames ignore case."""
    name = (credentials or {}).get("username")
    if name is None and request is not None:
        name = request.POST.get("username")
    return name.strip().lower()[:150] if isinstance(name, str) else None


def lockout_ip(request: HttpRequest) -> str | None:
    """The same client address the audit log records."""
    return client_ip(request)


def lockout_message() -> str:
    minutes = max(1, math.ceil(_cool_off_seconds() / 60))
    message = _(
        "登录失败次数过多，账号已在本设备暂时锁定。请 %(minutes)s 分钟后再试，或联系管理员。"
    )
    return message % {"minutes": minutes}


def _cool_off_seconds() -> int:
    cool_off = get_cool_off()
    return int(cool_off.total_seconds()) if cool_off is not None else 0


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """HTTP 429: ``{code: "locked_out", message, details}`` in the API, the login page with
    the message otherwise."""
    message = lockout_message()
    retry = _cool_off_seconds()
    if request.path.startswith(API_PREFIX):
        response: HttpResponse = JsonResponse(
            {
                "code": "locked_out",
                "message": message,
                "details": {
                    "retry_after_seconds": retry,
                    "failure_limit": settings.AXES_FAILURE_LIMIT,
                },
            },
            status=429,
        )
    else:
        form = AuthenticationForm(request, data=None)
        response = render(
            request,
            "accounts/login.html",
            {"form": form, "locked_out_message": message, "next": request.POST.get("next", "")},
            status=429,
        )
    if retry:
        response["Retry-After"] = str(retry)
    return response


@receiver(user_login_failed, dispatch_uid="cunzhan.accounts.audit_login_failed")
def _audit_login_failed(
    sender: Any, credentials: dict, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Every failed login, with the username tried and the address (never the password)."""
    from cunzhan.accounts.services import login_failure_record

    if request is None:
        return
    login_failure_record(
        username=str(credentials.get("username") or ""),
        ip_address=client_ip(request),
        channel="api" if request.path.startswith(API_PREFIX) else "page",
        locked_out=bool(getattr(request, "axes_locked_out", False)),
    )
