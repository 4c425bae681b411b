from cunzhan.impact import export_views
from cunzhan.impact.risk_views import urlpatterns as risk_urlpatterns
from cunzhan.impact.views import app_name
from cunzhan.impact.views import urlpatterns as dashboard_urls

urlpatterns = [*dashboard_urls, *risk_urlpatterns, *export_views.urlpatterns]

__all__ = ["app_name", "urlpatterns"]
