"""API plumbing shared by every domain router: error schema, pagination, auth helpers."""

from __future__ import annotations

import datetime as dt
import re
import typing
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import PaginationBase
from pydantic import AfterValidator, BeforeValidator

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


# --- input types: what the published schema says is all that is accepted ---------------------

# The days and times the platform's operations can mean: no plan, visit, scan or period
# before 2000 or after 2100 (and so no local time with the zone's pre-1901 LMT offset).
MIN_YEAR = 2000
MAX_YEAR = 2100
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}.*")


def _iso_text(pattern: re.Pattern[str], message: str) -> Callable[[Any], Any]:
    """A validator taking only ISO text matching ``pattern``: pydantic would read "0" or
    0 as a Unix time; the schema says "format: date" / "date-time"."""

    def check(value: Any) -> Any:
        if isinstance(value, (int, float)) or (
            isinstance(value, str) and not pattern.fullmatch(value)
        ):
            raise ValueError(message)
        return value

    return check


_date_text = _iso_text(_ISO_DATE, "a date YYYY-MM-DD")
_datetime_text = _iso_text(_ISO_DATETIME, "a date and time YYYY-MM-DDTHH:MM[:SS][+HH:MM]")


def _sane_year(value: Any) -> Any:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"the year must be from {MIN_YEAR} to {MAX_YEAR}")
    return value


# ``dt.date`` / ``dt.datetime`` as the schema publishes them (ISO 8601 text), in the
# years the platform can mean: anything else is 422 ``validation_error``.
IsoDate = Annotated[dt.date, BeforeValidator(_date_text), AfterValidator(_sane_year)]
IsoDateTime = Annotated[dt.datetime, BeforeValidator(_datetime_text), AfterValidator(_sane_year)]


def _not_bool_or_text(value: Any) -> Any:
    # pydantic's lax mode reads true as 1 and "12" as 12; the schema says "integer"/"number"
    if isinstance(value, (bool, str)):
        raise ValueError("a number")
    return value


# a JSON body's number: ``Annotated[int, JsonNumber]`` refuses true and "12"
JsonNumber = BeforeValidator(_not_bool_or_text)

# a row's id in a path or a filter: a database integer (a bigger one would overflow the
# database driver: 500)
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]

# "HH:MM" or "HH:MM:SS", a local wall-clock time without a zone (JSON Schema's "time"
# format needs an offset, which a shift or a cut-off does not have)
HHMM_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"


F = TypeVar("F", bound=Callable[..., Any])


def resolved_annotations(view: F) -> F:
    """Evaluate a view's annotations in its own module. Put it under ``@paginate``:
    ninja reads the parameters of the paginated wrapper in ninja's module, where a
    ``Literal`` or a module's own type alias (postponed annotations) is unknown."""
    view.__annotations__ = typing.get_type_hints(view, include_extras=True)
    return view


def require(request: HttpRequest, perm: str) -> Any:
    """The authenticated user, if it holds ``perm``; else PermissionDenied."""
    user = request.auth  # type: ignore[attr-defined]
    if user is None or not user.can(perm):
        raise PermissionDenied(f"this action needs the permission {perm!r}")
    return user
