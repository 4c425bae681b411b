from django.urls import path

from cunzhan.network import views

app_name = "network"
urlpatterns = [
    path("regions/", views.region_browser, name="regions"),
    path("regions/<str:code>/", views.region_browser, name="region"),
]
