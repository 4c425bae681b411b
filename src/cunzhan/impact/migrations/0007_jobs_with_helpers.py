"""Jobs count the helpers (淘帮手) too: an indicator of helpers, and the total ``jobs``
counts station operators, helpers and drivers (data migration)."""

from django.db import migrations

HELPERS = {
    "code": "jobs_station_helpers",
    "name_zh": "淘帮手",
    "name_en": "Station helpers",
    "numerator": "network.station_helpers",
    "unit": "人",
    "period_type": "month",
    "order": 68,
}
JOBS = {
    "name_zh": "就业岗位（站长、淘帮手、司机）",
    "name_en": "Jobs (station operators, helpers, drivers)",
    "numerator": "impact.jobs_all",
}
# what 0003 set, restored backwards
JOBS_BEFORE = {
    "name_zh": "网络岗位（站长、司机）",
    "name_en": "Jobs (station operators, drivers)",
    "numerator": "accounts.jobs",
}


def forwards(apps, schema_editor):
    Indicator = apps.get_model("impact", "Indicator")
    Indicator.objects.update_or_create(
        code=HELPERS["code"], defaults={k: v for k, v in HELPERS.items() if k != "code"}
    )
    Indicator.objects.filter(code="jobs").update(**JOBS)


def backwards(apps, schema_editor):
    Indicator = apps.get_model("impact", "Indicator")
    Indicator.objects.filter(code=HELPERS["code"]).delete()
    Indicator.objects.filter(code="jobs").update(**JOBS_BEFORE)


class Migration(migrations.Migration):
    dependencies = [("impact", "0006_commerce_indicators"), ("network", "0003_station_helper")]
    operations = [migrations.RunPython(forwards, backwards)]
