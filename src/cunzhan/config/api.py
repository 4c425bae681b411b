"""The one NinjaAPI, mounted at /api/v1. Every domain adds its router here."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer

from cunzhan.accounts.api import router as accounts_router
from cunzhan.accounts.selectors import user_by_token
from cunzhan.accounts.services import password_change_required_error
from cunzhan.commerce.api import router as commerce_router
from cunzhan.commerce.assisted_api import router as assisted_router
from cunzhan.commerce.orders_api import router as orders_router
from cunzhan.core import context
from cunzhan.core.errors import ApplicationError
from cunzhan.impact.api import router as impact_router
from cunzhan.impact.export_api import router as impact_export_router
from cunzhan.impact.risk_api import router as risk_router
from cunzhan.ledger.api import router as ledger_router
from cunzhan.logistics.api import router as logistics_router
from cunzhan.logistics.desk_api import router as logistics_desk_router
from cunzhan.logistics.plan_api import router as plan_router
from cunzhan.logistics.updown_api import router as updown_router
from cunzhan.network.api import router as network_router
from cunzhan.registry.api import router as registry_router

logger = logging.getLogger("cunzhan.api")


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <token>``; the user becomes the audit actor."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_by_token(token)
        if user is not None and user.password_change_required:
            # a one-time password is live: no API use until the user has chosen their own
            raise password_change_required_error()
        if user is not None:
            context.set_current(
                context.RequestContext(actor=user, ip_address=request.META.get("REMOTE_ADDR"))
            )
        return user


class VendoredSwagger(Swagger):
    """Swagger UI from our own static files (``static/vendor/swagger-ui``), never from a
    CDN: the docs page works without internet and under the Content-Security-Policy
    (ADR 0023). ninja would fall back to a CDN template unless ``ninja`` were an
    installed app; this renders ``templates/api/swagger.html`` instead."""

    template = "api/swagger.html"

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        settings_ = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        return render(
            request,
            self.template,
            {
                "swagger_settings": json.dumps(settings_).replace("<", "\\u003c"),
                "api": api,
                "add_csrf": False,
            },
        )


class ObjectBodyParser(Parser):
    """Every JSON body of this API is an object. ninja's schemas read attributes from
    whatever they are given, so a body of ``[null, null]`` would pass as an object with
    no fields: refuse it like a body that is not JSON (400 ``invalid_body``)."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = super().parse_body(request)
        if not isinstance(data, dict):
            raise ValueError("the body is not a JSON object")
        return data


api = NinjaAPI(
    title="cunzhan API",
    version="1.0.0",
    description=(
        "村站 cunzhan: regions, stations, registry. Token auth: `Authorization: Bearer <token>`."
    ),
    auth=TokenAuth(),
    urls_namespace="api",
    docs_url="/docs",
    docs=VendoredSwagger(settings={"validatorUrl": None}),
    openapi_url="/openapi.json",
    parser=ObjectBodyParser(),
)


def _error(
    request: HttpRequest, status: int, code: str, message: str, details: Any = None
) -> HttpResponse:
    return api.create_response(
        request, {"code": code, "message": message, "details": details or {}}, status=status
    )


@api.exception_handler(ApplicationError)
def on_application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return _error(request, exc.status, exc.code, exc.message, exc.details)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    details = [
        {
            "loc": [str(p) for p in e.get("loc", [])],
            "msg": str(e.get("msg", "")),
            "type": e.get("type", ""),
        }
        for e in exc.errors
    ]
    return _error(request, 422, "validation_error", "the request is not valid", {"errors": details})


@api.exception_handler(DjangoValidationError)
def on_django_validation_error(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    details = exc.message_dict if hasattr(exc, "error_dict") else {"non_field": exc.messages}
    return _error(request, 400, "validation_error", "; ".join(exc.messages), details)


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "unauthorized", "a valid API token is required")


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", "not found")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        # ninja could not read the body (ObjectBodyParser, or not JSON at all)
        return _error(request, 400, "invalid_body", _("请求正文应为一个 JSON 对象"))
    return _error(request, exc.status_code, "http_error", str(exc))


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    if settings.DEBUG and not settings.TESTING:
        raise exc
    logger.exception("unhandled error")
    return _error(request, 500, "server_error", "an unexpected error occurred")


api.add_router("/accounts", accounts_router)
api.add_router("/network", network_router)
api.add_router("/registry", registry_router)
api.add_router("/logistics", logistics_router)
api.add_router("/logistics", logistics_desk_router)
api.add_router("/logistics", plan_router)
api.add_router("/logistics", updown_router)
api.add_router("/commerce", commerce_router)
api.add_router("/commerce", assisted_router)
api.add_router("/commerce", orders_router)
api.add_router("/ledger", ledger_router)
api.add_router("/impact", impact_router)
api.add_router("/impact", risk_router)
api.add_router("/impact", impact_export_router)
