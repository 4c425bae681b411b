"""Page helpers shared by every domain's views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from cunzhan.core import scope as scope_mod


def require_perm(perm: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """403 unless the logged-in user's role holds ``perm`` (use under login_required)."""

    def deco(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated or not user.can(perm):  # type: ignore[union-attr]
                raise PermissionDenied(perm)
            return view(request, *args, **kwargs)

        return wrapper

    return deco


def user_scope(request: HttpRequest) -> Any:
    """The region scope of the logged-in user (core cannot import accounts: the
    resolver is installed by ``accounts`` at start-up)."""
    resolver = scope_mod.USER_SCOPE_RESOLVER
    if resolver is None:  # pragma: no cover - accounts always installs it
        raise RuntimeError("no user scope resolver installed")
    return resolver(request.user)
