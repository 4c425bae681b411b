from django.urls import path

from cunzhan.registry import views

app_name = "registry"
urlpatterns = [
    path("", views.household_list_page, name="households"),
    path("households/new/", views.household_create_page, name="household_create"),
    path("households/<uuid:household_id>/", views.household_detail_page, name="household"),
    path(
        "households/<uuid:household_id>/persons/new/",
        views.person_create_page,
        name="person_create",
    ),
    path("persons/<uuid:person_id>/id-number/", views.person_id_number_reveal, name="id_number"),
    path("imports/", views.import_page, name="import"),
    path("imports/template.csv", views.import_template, name="import_template"),
    path("imports/<uuid:batch_id>/", views.import_batch_page, name="import_batch"),
    path("imports/<uuid:batch_id>/report.csv", views.import_report_csv, name="import_report"),
]
