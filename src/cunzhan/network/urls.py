from django.urls import path

from cunzhan.network import views

app_name = "network"
urlpatterns = [
    path("regions/", views.region_browser, name="regions"),
    path("regions/search/", views.region_search_options, name="region_search"),
    path("regions/<str:code>/", views.region_browser, name="region"),
    path("stations/", views.station_list_page, name="stations"),
    path("stations/apply/", views.station_apply_page, name="station_apply"),
    path("stations/<int:pk>/", views.station_detail_page, name="station"),
    path("stations/<int:pk>/edit/", views.station_edit_page, name="station_edit"),
    path("stations/<int:pk>/helpers/", views.station_helper_add_page, name="station_helper_add"),
    path(
        "stations/<int:pk>/helpers/<int:helper_id>/end/",
        views.station_helper_end_page,
        name="station_helper_end",
    ),
    path("stations/<int:pk>/<str:action>/", views.station_action, name="station_action"),
    path("map/", views.station_map, name="map"),
]
