from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from cunzhan.config.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("cunzhan.accounts.urls")),
    path("network/", include("cunzhan.network.urls")),
    path("registry/", include("cunzhan.registry.urls")),
    path("logistics/", include("cunzhan.logistics.urls")),
    path("commerce/", include("cunzhan.commerce.urls")),
    path("t/", include("cunzhan.commerce.trace_views")),
    path("ledger/", include("cunzhan.ledger.urls")),
    path("shop/", include("cunzhan.commerce.views_store")),
    path("orders/", include("cunzhan.commerce.views_orders")),
    path("audit/", include("cunzhan.core.urls")),
    path("impact/", include("cunzhan.impact.urls")),
    path("open/", include("cunzhan.impact.views_public")),
]
