"""Station fees: no single-column index on station, month or status."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("logistics", "0008_slim_scan_event_indexes"),
        ("network", "0002_station_one_live_per_region_kind"),
    ]

    operations = [
        migrations.AlterField(
            model_name="stationfee",
            name="month",
            field=models.CharField(max_length=7),
        ),
        migrations.AlterField(
            model_name="stationfee",
            name="station",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="fees",
                to="network.station",
            ),
        ),
        migrations.AlterField(
            model_name="stationfee",
            name="status",
            field=models.CharField(
                choices=[("owed", "应付"), ("posted", "已入账")], default="owed", max_length=8
            ),
        ),
    ]
