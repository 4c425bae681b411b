"""One error vocabulary for the whole platform.

Services raise :class:`ApplicationError` with a stable ``code``; the API renders
it as ``{"code", "message", "details"}`` and pages show ``message`` in the form.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A business-rule failure the caller can act on (HTTP 400 unless ``status``)."""

    status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid",
        details: dict[str, Any] | list[Any] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = str(message)
        self.code = code
        self.details = details if details is not None else {}
        if status is not None:
            self.status = status

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class NotFound(ApplicationError):
    """The object does not exist, or is outside the caller's scope (never tell which)."""

    status = 404

    def __init__(self, message: str = "Not found", *, code: str = "not_found", **kw: Any):
        super().__init__(message, code=code, **kw)


class Conflict(ApplicationError):
    """The request is well formed but the object's state forbids it now (a transition
    from the wrong state, a duplicate, a finished run): HTTP 409."""

    status = 409


class Unprocessable(ApplicationError):
    """Every value matches the published schema, but a rule the schema cannot state is
    broken: values that must agree with each other (a start after its end), with the
    clock (a delivery date in the past) or with stored data (an account id that does not
    exist): HTTP 422. A rule about one value alone belongs in the schema (ADR 0032)."""

    status = 422


class PermissionDenied(ApplicationError):
    status = 403

    def __init__(
        self, message: str = "Permission denied", *, code: str = "permission_denied", **kw: Any
    ):
        super().__init__(message, code=code, **kw)
