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


class PermissionDenied(ApplicationError):
    status = 403

    def __init__(
        self, message: str = "Permission denied", *, code: str = "permission_denied", **kw: Any
    ):
        super().__init__(message, code=code, **kw)
