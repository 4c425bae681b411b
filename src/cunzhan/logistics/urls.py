from cunzhan.logistics.views import county, plan, shipments, station

app_name = "logistics"
urlpatterns = [
    *county.urlpatterns,
    *station.urlpatterns,
    *plan.urlpatterns,
    *shipments.urlpatterns,
]
