from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from cunzhan.core import context


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


class RequestActorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        actor = user if user is not None and user.is_authenticated else None
        token = context.set_current(
            context.RequestContext(actor=actor, ip_address=client_ip(request))
        )
        try:
            return self.get_response(request)
        finally:
            context.reset(token)
