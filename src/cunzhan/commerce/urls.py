from cunzhan.commerce import views

app_name = "commerce"
urlpatterns = views.urlpatterns

# assisted purchase (代购) and station earnings (ADR 0016)
from cunzhan.commerce import views_assisted  # noqa: E402

urlpatterns += views_assisted.urlpatterns
