from django.urls import path

from cunzhan.registry import views

app_name = "registry"
urlpatterns = [
    path("", views.household_list_page, name="households"),
    path("residents/", views.resident_list_page, name="residents"),
    path("households/new/", views.household_create_page, name="household_create"),
    path("households/<uuid:household_id>/", views.household_detail_page, name="household"),
    path(
        "households/<uuid:household_id>/persons/new/",
        views.person_create_page,
        name="person_create",
    ),
    path("households/<uuid:household_id>/edit/", views.household_edit_page, name="household_edit"),
    path(
        "households/<uuid:household_id>/poverty/",
        views.poverty_register_page,
        name="poverty_register",
    ),
    path(
        "households/<uuid:household_id>/poverty/exit/",
        views.poverty_exit_page,
        name="poverty_exit",
    ),
    path("persons/<uuid:person_id>/edit/", views.person_edit_page, name="person_edit"),
    path("persons/<uuid:person_id>/consents/", views.consent_grant_page, name="consent_grant"),
    path(
        "consents/<int:consent_id>/withdraw/",
        views.consent_withdraw_page,
        name="consent_withdraw",
    ),
    path("persons/<uuid:person_id>/id-number/", views.person_id_number_reveal, name="id_number"),
    path("imports/", views.import_page, name="import"),
    path("imports/template.csv", views.import_template, name="import_template"),
    path("imports/<uuid:batch_id>/", views.import_batch_page, name="import_batch"),
    path("imports/<uuid:batch_id>/report.csv", views.import_report_csv, name="import_report"),
]
