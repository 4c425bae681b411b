"""The built-in indicators over the network's own data (data migration)."""

from django.db import migrations

GREEN, AMBER, RED = "#2e7d32", "#f9a825", "#c62828"

BUILTIN = [
    {
        "code": "parcels_down",
        "name_zh": "到村包裹数",
        "name_en": "Parcels delivered to villages",
        "numerator": "logistics.parcels_down",
        "unit": "件",
        "period_type": "day",
        "order": 10,
    },
    {
        "code": "parcels_picked_up",
        "name_zh": "取件数",
        "name_en": "Parcels picked up",
        "numerator": "logistics.parcels_picked_up",
        "unit": "件",
        "period_type": "day",
        "order": 20,
    },
    {
        "code": "pickup_rate",
        "name_zh": "取件率",
        "name_en": "Pick-up rate",
        "numerator": "logistics.parcels_picked_up",
        "denominator": "logistics.parcels_down",
        "factor": 100,
        "unit": "%",
        "period_type": "day",
        "target": 95.0,
        "legend": [
            {"min": 0, "color": RED, "label": "低"},
            {"min": 85, "color": AMBER, "label": "中"},
            {"min": 95, "color": GREEN, "label": "达标"},
        ],
        "order": 30,
    },
    {
        "code": "unclaimed_rate",
        "name_zh": "滞留退回率",
        "name_en": "Unclaimed-parcel rate",
        "numerator": "logistics.parcels_unclaimed",
        "denominator": "logistics.parcels_down",
        "factor": 100,
        "unit": "%",
        "period_type": "day",
        "target": 3.0,
        "higher_is_better": False,
        "legend": [
            {"min": 0, "color": GREEN, "label": "达标"},
            {"min": 3, "color": AMBER, "label": "偏高"},
            {"min": 8, "color": RED, "label": "过高"},
        ],
        "order": 40,
    },
    {
        "code": "shipments_up",
        "name_zh": "上行寄件数",
        "name_en": "Upward shipments",
        "numerator": "logistics.shipments_up",
        "unit": "件",
        "period_type": "day",
        "order": 50,
    },
    {
        "code": "village_stations_active",
        "name_zh": "运营中的村级服务站",
        "name_en": "Active village stations",
        "numerator": "network.stations_active.village_station",
        "unit": "个",
        "period_type": "month",
        "order": 60,
    },
    {
        "code": "households_registered_poor",
        "name_zh": "未脱贫建档立卡户",
        "name_en": "Registered-poor households (not exited)",
        "numerator": "registry.households_registered_poor",
        "unit": "户",
        "period_type": "month",
        "higher_is_better": False,
        "order": 70,
    },
]


def forwards(apps, schema_editor):
    Indicator = apps.get_model("impact", "Indicator")
    for row in BUILTIN:
        code = row["code"]
        Indicator.objects.update_or_create(
            code=code, defaults={k: v for k, v in row.items() if k != "code"}
        )


def backwards(apps, schema_editor):
    Indicator = apps.get_model("impact", "Indicator")
    Indicator.objects.filter(code__in=[r["code"] for r in BUILTIN]).delete()


class Migration(migrations.Migration):
    dependencies = [("impact", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
