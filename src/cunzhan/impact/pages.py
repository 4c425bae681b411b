"""What the impact pages share: reading a date from the query string and the 400 page."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cunzhan.core.errors import ApplicationError


def get_date(request: HttpRequest, name: str) -> dt.date | None:
    """The query parameter ``name`` as a date (None when absent); a clear error if it is
    not YYYY-MM-DD."""
    raw = (request.GET.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise ApplicationError(f"{name}: a date YYYY-MM-DD", code="invalid_date") from exc


def bad_request(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return render(request, "impact/error.html", {"error": exc.message}, status=400)
