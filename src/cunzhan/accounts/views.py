from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import authenticate, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cunzhan.accounts.forms import TokenCreateForm, UserCreateForm, UserEditForm, UserFilterForm
from cunzhan.accounts.home import home_context
from cunzhan.accounts.lockout import lockout_message
from cunzhan.accounts.models import User
from cunzhan.accounts.roles import Perm, Role
from cunzhan.accounts.selectors import (
    api_token_get,
    api_token_list,
    assignment_list,
    scope_for_user,
    user_get,
    user_manageable_list,
)
from cunzhan.accounts.services import (
    api_token_create,
    api_token_revoke,
    login_check,
    login_record,
    user_assignments_set,
    user_create,
    user_deactivate,
    user_password_reset,
    user_password_set,
    user_reactivate,
    user_update,
)
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.views import require_perm


class LoginForm(AuthenticationForm):
    """Django's login form; a one-time password opens one session only (``login_check``)."""

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        try:
            login_check(user=user, channel="page")
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True
    authentication_form = LoginForm

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        response = super().form_valid(form)
        user = login_record(user=form.get_user())
        if user.password_change_required:
            return redirect("accounts:password_change")
        return response


class LogoutView(auth_views.LogoutView):
    pass


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The landing page for each role: what this person does here, and their numbers."""
    user = request.user
    scope = scope_for_user(user)
    ctx = {
        "scope": scope,
        "assignments": assignment_list(user=user),  # type: ignore[arg-type]
        **home_context(user=user, scope=scope),
    }
    return render(request, "accounts/home.html", ctx)


# --- user management (ADR 0006) -------------------------------------------------------------


def _managed_or_404(request: HttpRequest, user_id: int) -> User:
    try:
        return user_get(actor=request.user, user_id=user_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _apply_error(form: forms.Form, exc: ApplicationError) -> None:
    """Show a service error on its field when the form has it, else above the form."""
    field = exc.details.get("field") if isinstance(exc.details, dict) else None
    form.add_error(field if field in form.fields else None, exc.message)


def _assignment_initial(user: User) -> dict[str, str]:
    rows = list(assignment_list(user=user))
    return {
        "region_codes": " ".join(a.region_id for a in rows if a.region_id),
        "station_codes": " ".join(a.station.code for a in rows if a.station is not None),
    }


@login_required
@require_perm(Perm.MANAGE_USERS)
def user_list_page(request: HttpRequest) -> HttpResponse:
    """The users the caller manages, filtered by text, role, region and state; 25 a page."""
    form = UserFilterForm(request.GET or None, actor=request.user)
    filters: dict[str, Any] = {}
    if form.is_valid():
        active = form.cleaned_data["active"]
        filters = {
            "q": form.cleaned_data["q"],
            "role": form.cleaned_data["role"],
            "region": form.cleaned_data["region"],
            "active": None if active == "" else active == "1",
        }
    qs = user_manageable_list(actor=request.user, **filters)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    ctx = {"form": form, "page": page, "query": params.urlencode()}
    template = (
        "accounts/_user_rows.html"
        if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "user-results"
        else "accounts/users.html"
    )
    return render(request, template, ctx)


@login_required
@require_perm(Perm.MANAGE_USERS)
def user_create_page(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user, password = user_create(
                username=data["username"],
                role=data["role"],
                display_name=data["display_name"],
                phone=data["phone"],
                region_codes=data["region_codes"],
                station_ids=data["station_codes"],
                actor=request.user,
            )
        except ApplicationError as exc:
            _apply_error(form, exc)
        else:
            return render(
                request,
                "accounts/user_detail.html",
                {**_user_detail_context(request, user), "new_password": password, "created": True},
            )
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/user_form.html", {"form": form, "target": None}, status=status)


def _user_detail_context(request: HttpRequest, user: User) -> dict[str, Any]:
    return {
        "target": user,
        "assignments": assignment_list(user=user),
        "tokens": api_token_list(user=user),
        "is_self": user.pk == request.user.pk,
        "can_revoke": request.user.role == Role.NETWORK_ADMIN,  # type: ignore[union-attr]
    }


@login_required
@require_perm(Perm.MANAGE_USERS)
def user_detail_page(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _managed_or_404(request, user_id)
    return render(request, "accounts/user_detail.html", _user_detail_context(request, user))


@login_required
@require_perm(Perm.MANAGE_USERS)
def user_edit_page(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _managed_or_404(request, user_id)
    initial = {
        "display_name": user.display_name,
        "phone": user.phone,
        "role": user.role,
        **_assignment_initial(user),
    }
    form = UserEditForm(request.POST or None, initial=initial, actor=request.user, user=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                if data["region_codes"] or data["station_codes"] or user.role != Role.NETWORK_ADMIN:
                    user_assignments_set(
                        actor=request.user,
                        user=user,
                        region_codes=data["region_codes"],
                        station_ids=data["station_codes"],
                    )
                user_update(
                    actor=request.user,
                    user=user,
                    display_name=data["display_name"],
                    phone=data["phone"],
                    role=data["role"],
                )
        except ApplicationError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, _("已保存"))
            return redirect("accounts:user", user_id=user.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/user_form.html", {"form": form, "target": user}, status=status)


def _user_action(
    request: HttpRequest, user_id: int, service: Callable[..., Any], done: str
) -> HttpResponse:
    user = _managed_or_404(request, user_id)
    try:
        service(actor=request.user, user=user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("accounts:user", user_id=user.pk)
    messages.success(request, done)
    return redirect("accounts:user", user_id=user.pk)


@login_required
@require_POST
@require_perm(Perm.MANAGE_USERS)
def user_deactivate_page(request: HttpRequest, user_id: int) -> HttpResponse:
    return _user_action(request, user_id, user_deactivate, _("账号已停用"))


@login_required
@require_POST
@require_perm(Perm.MANAGE_USERS)
def user_reactivate_page(request: HttpRequest, user_id: int) -> HttpResponse:
    return _user_action(request, user_id, user_reactivate, _("账号已恢复"))


@login_required
@require_POST
@require_perm(Perm.MANAGE_USERS)
def user_password_reset_page(request: HttpRequest, user_id: int) -> HttpResponse:
    """Shows the new one-time password in the response, once (never stored)."""
    user = _managed_or_404(request, user_id)
    try:
        password = user_password_reset(actor=request.user, user=user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("accounts:user", user_id=user.pk)
    ctx = {**_user_detail_context(request, user), "new_password": password}
    return render(request, "accounts/user_detail.html", ctx)


# --- my account -------------------------------------------------------------------------------


def _account_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {
        "assignments": assignment_list(user=request.user),  # type: ignore[arg-type]
        "tokens": api_token_list(user=request.user),
        "token_form": extra.pop("token_form", None) or TokenCreateForm(),
        "password_form": extra.pop("password_form", None) or _password_form(request),
        **extra,
    }


class OwnPasswordChangeForm(PasswordChangeForm):
    """Django's form, but the old password is checked through ``authenticate`` with the
    request: guesses count towards the same lockout as the login page's, and are audited."""

    def __init__(self, user: Any, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.request = request

    def clean_old_password(self) -> str:
        old = self.cleaned_data["old_password"]
        if authenticate(self.request, username=self.user.username, password=old) is None:
            if getattr(self.request, "axes_locked_out", False):
                raise forms.ValidationError(lockout_message(), code="locked_out")
            raise forms.ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old


def _password_form(request: HttpRequest) -> PasswordChangeForm:
    return OwnPasswordChangeForm(request.user, request=request)


@login_required
def account_page(request: HttpRequest) -> HttpResponse:
    """Every user: their assignments, API tokens and password."""
    return render(request, "accounts/account.html", _account_context(request))


@login_required
@require_POST
def token_create_page(request: HttpRequest) -> HttpResponse:
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        ctx = _account_context(request, token_form=form)
        return render(request, "accounts/account.html", ctx, status=400)
    token, key = api_token_create(user=request.user, name=form.cleaned_data["name"])  # type: ignore[arg-type]
    ctx = _account_context(request, new_token=key, new_token_obj=token)
    return render(request, "accounts/account.html", ctx)


@login_required
@require_POST
def token_revoke_page(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token = api_token_get(actor=request.user, token_id=token_id)
        api_token_revoke(actor=request.user, token=token)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("accounts:account")
    messages.success(request, _("令牌已撤销"))
    if token.user_id != request.user.pk:
        return redirect("accounts:user", user_id=token.user_id)
    return redirect("accounts:account")


@login_required
def password_change_page(request: HttpRequest) -> HttpResponse:
    """Change one's password. A user holding a one-time password is sent here by
    ``PasswordChangeRequiredMiddleware`` and may do nothing else until it is done."""
    forced = bool(request.user.password_change_required)  # type: ignore[union-attr]
    if request.method != "POST":
        return render(
            request,
            "accounts/password_change.html",
            {"password_form": _password_form(request), "forced": forced},
        )
    form = OwnPasswordChangeForm(request.user, request.POST, request=request)
    if form.is_valid():
        try:
            user = user_password_set(
                user=request.user,  # type: ignore[arg-type]
                password=form.cleaned_data["new_password1"],
            )
        except ApplicationError as exc:
            _apply_error(form, exc)
        else:
            update_session_auth_hash(request, user)
            messages.success(request, _("密码已修改"))
            return redirect("accounts:home" if forced else "accounts:account")
    if forced:
        ctx = {"password_form": form, "forced": True}
        return render(request, "accounts/password_change.html", ctx, status=400)
    ctx = _account_context(request, password_form=form)
    return render(request, "accounts/account.html", ctx, status=400)
