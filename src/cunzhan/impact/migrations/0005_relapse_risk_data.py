"""Relapse-risk monitoring (data): the yearly monitoring lines from
``impact/data/monitoring_lines.json`` (sources in DATA_SOURCES.md) and the indicator
"households at risk" over the open cases (source ``impact.households_at_risk``)."""

import json
from pathlib import Path

from django.db import migrations

LINES_FILE = Path(__file__).resolve().parents[1] / "data" / "monitoring_lines.json"

ROWS = [
    {
        "code": "households_at_risk",
        "name_zh": "返贫风险监测户",
        "name_en": "Households at risk of relapse",
        "description": "Registered or exited households with a relapse-risk case not closed",
        "numerator": "impact.households_at_risk",
        "period_type": "month",
        "higher_is_better": False,
        "order": 95,
    },
]


def forwards(apps, schema_editor):
    Indicator = apps.get_model("impact", "Indicator")
    for row in ROWS:
        Indicator.objects.update_or_create(
            code=row["code"], defaults={k: v for k, v in row.items() if k != "code"}
        )
    MonitoringLine = apps.get_model("impact", "MonitoringLine")
    for line in json.loads(LINES_FILE.read_text(encoding="utf-8"))["lines"]:
        MonitoringLine.objects.update_or_create(
            year=line["year"],
            region_prefix=line["region_prefix"],
            defaults={"amount_fen": line["amount_fen"], "source": line["source"][:400]},
        )


def backwards(apps, schema_editor):
    apps.get_model("impact", "Indicator").objects.filter(code__in=[r["code"] for r in ROWS]).delete()
    apps.get_model("impact", "MonitoringLine").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("impact", "0005_relapse_risk")]
    operations = [migrations.RunPython(forwards, backwards)]
