"""API plumbing shared by every domain router: error schema, pagination, auth helpers."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import PaginationBase

from cunzhan.core.errors import PermissionDenied


class ErrorOut(Schema):
    code: str
    message: str
    details: dict[str, Any] | list[Any]


ERROR_RESPONSES: dict[int, Any] = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ErrorOut,
}


class Pagination(PaginationBase):
    """``?page=1&page_size=50`` -> ``{"count", "page", "page_size", "items"}``."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=1_000_000)
        page_size: int = Field(50, ge=1, le=500)

    class Output(Schema):
        count: int
        page: int
        page_size: int
        items: list[Any]

    items_attribute: str = "items"
    max_page_size = 500

    def paginate_queryset(  # type: ignore[override]
        self, queryset: Any, pagination: Input, **params: Any
    ) -> dict[str, Any]:
        page = max(1, pagination.page)
        size = min(max(1, pagination.page_size), self.max_page_size)
        offset = (page - 1) * size
        return {
            "count": self._items_count(queryset),
            "page": page,
            "page_size": size,
            "items": list(queryset[offset : offset + size]),
        }


def require(request: HttpRequest, perm: str) -> Any:
    """The authenticated user, if it holds ``perm``; else PermissionDenied."""
    user = request.auth  # type: ignore[attr-defined]
    if user is None or not user.can(perm):
        raise PermissionDenied(f"this action needs the permission {perm!r}")
    return user
