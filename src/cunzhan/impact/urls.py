from cunzhan.impact.risk_views import urlpatterns as risk_urlpatterns
from cunzhan.impact.views import app_name, urlpatterns

urlpatterns = [*urlpatterns, *risk_urlpatterns]

__all__ = ["app_name", "urlpatterns"]
