"""Jobs in the network: station operators and drivers (data migration)."""

from django.db import migrations

ROW = {
    "code": "jobs",
    "name_zh": "网络岗位（站长、司机）",
    "name_en": "Jobs (station operators, drivers)",
    "numerator": "accounts.jobs",
    "unit": "人",
    "period_type": "month",
    "order": 65,
}


def forwards(apps, schema_editor):
    Indicator = apps.get_model("impact", "Indicator")
    Indicator.objects.update_or_create(
        code=ROW["code"], defaults={k: v for k, v in ROW.items() if k != "code"}
    )


def backwards(apps, schema_editor):
    apps.get_model("impact", "Indicator").objects.filter(code=ROW["code"]).delete()


class Migration(migrations.Migration):
    dependencies = [("impact", "0002_builtin_indicators")]
    operations = [migrations.RunPython(forwards, backwards)]
