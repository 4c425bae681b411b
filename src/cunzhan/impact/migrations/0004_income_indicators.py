"""Income of registered-poor households, all sources and e-commerce (data migration)."""

from django.db import migrations

ROWS = [
    {
        "code": "poor_income_fen",
        "name_zh": "建档立卡户收入",
        "name_en": "Income of registered households",
        "numerator": "registry.income_fen",
        "unit": "分",
        "period_type": "year",
        "order": 80,
    },
    {
        "code": "poor_income_ecommerce_share",
        "name_zh": "建档立卡户经营及电商收入占比",
        "name_en": "Business and e-commerce share of registered households' income",
        "numerator": "registry.income_fen.business_ecommerce",
        "denominator": "registry.income_fen",
        "factor": 100,
        "unit": "%",
        "period_type": "year",
        "order": 90,
    },
]


def forwards(apps, schema_editor):
    Indicator = apps.get_model("impact", "Indicator")
    for row in ROWS:
        Indicator.objects.update_or_create(
            code=row["code"], defaults={k: v for k, v in row.items() if k != "code"}
        )


def backwards(apps, schema_editor):
    apps.get_model("impact", "Indicator").objects.filter(code__in=[r["code"] for r in ROWS]).delete()


class Migration(migrations.Migration):
    dependencies = [("impact", "0003_jobs_indicator")]
    operations = [migrations.RunPython(forwards, backwards)]
