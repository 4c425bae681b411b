"""Online sales (all, poverty counties, registered-poor households), poverty counties
with a year's online sales of ¥100M or more (``count_over``), on-time delivery,
households exited, active township and county stations, jobs by kind; the household
count of a cell (for the public page's suppression). ADR 0020."""

from django.db import migrations, models

GREEN, AMBER, RED = "#2e7d32", "#f9a825", "#c62828"
YUAN_100M_FEN = 100_000_000 * 100

ROWS = [
    {
        "code": "online_sales_fen",
        "name_zh": "网络销售额",
        "name_en": "Online sales",
        "numerator": "commerce.sales_fen",
        "unit": "分",
        "period_type": "day",
        "description": "已送达订单的结算销售额减去退货退款，按送达日、货品所属村计",
        "order": 100,
    },
    {
        "code": "online_sales_poverty_counties_fen",
        "name_zh": "贫困县网络销售额",
        "name_en": "Online sales of poverty counties",
        "numerator": "commerce.sales_fen.poverty_counties",
        "unit": "分",
        "period_type": "day",
        "order": 101,
    },
    {
        "code": "online_sales_registered_poor_fen",
        "name_zh": "建档立卡户网络销售额",
        "name_en": "Online sales of registered-poor households",
        "numerator": "commerce.sales_fen.registered_poor",
        "unit": "分",
        "period_type": "day",
        "order": 102,
    },
    {
        "code": "poverty_counties_sales_over_100m",
        "name_zh": "网络销售额过亿元的贫困县",
        "name_en": "Poverty counties with online sales over ¥100M a year",
        "numerator": "impact.counties_over",
        "aggregation": "count_over",
        "base": "online_sales_poverty_counties_fen",
        "threshold": YUAN_100M_FEN,
        "unit": "个",
        "period_type": "year",
        "order": 103,
    },
    {
        "code": "on_time_rate",
        "name_zh": "准时送达率",
        "name_en": "On-time delivery rate",
        "numerator": "logistics.parcels_on_time",
        "denominator": "logistics.parcels_arrived_measured",
        "factor": 100,
        "unit": "%",
        "period_type": "day",
        "target": 95.0,
        "legend": [
            {"min": 0, "color": RED, "label": "低"},
            {"min": 85, "color": AMBER, "label": "中"},
            {"min": 95, "color": GREEN, "label": "达标"},
        ],
        "description": "县级中心截单前收货当日到村站、截单后收货次日到村站为准时",
        "order": 45,
    },
    {
        "code": "households_exited",
        "name_zh": "脱贫户数",
        "name_en": "Households exited from poverty",
        "numerator": "registry.households_exited",
        "unit": "户",
        "period_type": "year",
        "order": 75,
    },
    {
        "code": "township_depots_active",
        "name_zh": "运营中的乡镇服务站",
        "name_en": "Active township depots",
        "numerator": "network.stations_active.township_depot",
        "unit": "个",
        "period_type": "month",
        "order": 61,
    },
    {
        "code": "county_centres_active",
        "name_zh": "运营中的县级服务中心",
        "name_en": "Active county centres",
        "numerator": "network.stations_active.county_centre",
        "unit": "个",
        "period_type": "month",
        "order": 62,
    },
    {
        "code": "jobs_station_operators",
        "name_zh": "村站站长岗位",
        "name_en": "Jobs: station operators",
        "numerator": "accounts.jobs.station_operator",
        "unit": "人",
        "period_type": "month",
        "order": 66,
    },
    {
        "code": "jobs_drivers",
        "name_zh": "司机岗位",
        "name_en": "Jobs: drivers",
        "numerator": "accounts.jobs.driver",
        "unit": "人",
        "period_type": "month",
        "order": 67,
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
    dependencies = [("impact", "0005_relapse_risk_data")]

    operations = [
        migrations.AddField(
            model_name="indicator",
            name="base",
            field=models.CharField(blank=True, default="", max_length=60),
        ),
        migrations.AddField(
            model_name="indicator",
            name="threshold",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="indicatorvalue",
            name="households",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(forwards, backwards),
    ]
