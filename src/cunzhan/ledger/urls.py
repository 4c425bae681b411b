from django.urls import path

from cunzhan.ledger.views import (
    account,
    bank_decide,
    bank_submit,
    county,
    fees_post,
    home,
    payout,
    payout_create,
    payout_csv,
    payout_file,
    payout_mark,
    producer,
    rules,
    station,
)

app_name = "ledger"
urlpatterns = [
    path("", home, name="home"),
    path("county/<str:county_code>/", county, name="county"),
    path("county/<str:county_code>/rules", rules, name="rules"),
    path("county/<str:county_code>/fees", fees_post, name="fees-post"),
    path("county/<str:county_code>/payouts", payout_create, name="payout-create"),
    path("account/<uuid:account_id>/", account, name="account"),
    path("producer/<str:owner_key>/", producer, name="producer"),
    path("station/<int:station_id>/", station, name="station"),
    path("payout/<uuid:payout_id>/", payout, name="payout"),
    path("payout/<uuid:payout_id>/csv", payout_csv, name="payout-csv"),
    path("payout/<uuid:payout_id>/pain001.xml", payout_file, name="payout-file"),
    path("payout/<uuid:payout_id>/mark", payout_mark, name="payout-mark"),
    path("account/<uuid:account_id>/bank", bank_submit, name="bank-submit"),
    path("bank/<uuid:details_id>/decide", bank_decide, name="bank-decide"),
]
