from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cunzhan.accounts.selectors import assignment_list, scope_for_user
from cunzhan.core.audit import audit_record


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        response = super().form_valid(form)
        user = form.get_user()
        audit_record(
            action="login",
            object_type="accounts.User",
            object_id=user.pk,
            object_repr=user.username,
            actor=user,
        )
        return response


class LogoutView(auth_views.LogoutView):
    pass


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The landing page for each role: what this person does here, and their numbers."""
    from cunzhan.accounts.home import home_context

    user = request.user
    scope = scope_for_user(user)
    ctx = {
        "scope": scope,
        "assignments": assignment_list(user=user),  # type: ignore[arg-type]
        **home_context(user=user, scope=scope),
    }
    return render(request, "accounts/home.html", ctx)
