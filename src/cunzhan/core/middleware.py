from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext as _

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


_NUL_MARKERS = (b"\x00", b"%00", b"\\u0000")


def _has_nul(data: bytes) -> bool:
    lowered = data.lower()
    return any(marker in lowered for marker in _NUL_MARKERS)


class RejectNulMiddleware:
    """Refuse a request whose query string or (non-file) body carries a NUL character:
    no database can be asked to store or match it (PostgreSQL refuses), and no user
    types one. The API answers 422: a JSON string may hold a NUL, so the request can
    match the published schema and still break this rule (ADR 0032); a page answers
    400. Uploaded files are left to their importers, which report a NUL in a cell as a
    row error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "").encode("latin-1", "replace")
        content_type = request.META.get("CONTENT_TYPE", "")
        if content_type.startswith("multipart/"):
            # form fields only; files are read by their importers
            fields = [v for _k, values in request.POST.lists() for v in values]
            body_nul = any("\x00" in v for v in fields)
        else:
            body_nul = _has_nul(request.body)
        if _has_nul(query) or body_nul or "\x00" in request.path:
            message = _("请求中含有 NUL 字符，任何字段都不接受它")
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"code": "invalid_text", "message": message, "details": {}}, status=422
                )
            return HttpResponseBadRequest(message)
        return self.get_response(request)
