"""Scan events keep three indexes: primary key, unique event id, (parcel, time, id)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("logistics", "0007_fast_parcel_indexes"),
        ("network", "0002_station_one_live_per_region_kind"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # the new unique constraint first: event ids are never without one
    operations = [
        migrations.AddConstraint(
            model_name="scanevent",
            constraint=models.UniqueConstraint(fields=("event_id",), name="scan_event_id_uniq"),
        ),
        migrations.AlterField(
            model_name="scanevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="scanevent",
            name="event_id",
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name="scanevent",
            name="parcel",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="events",
                to="logistics.parcel",
            ),
        ),
        migrations.AlterField(
            model_name="scanevent",
            name="region",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="network.region",
            ),
        ),
        migrations.AlterField(
            model_name="scanevent",
            name="station",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="network.station",
            ),
        ),
    ]
