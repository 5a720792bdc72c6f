"""Keep every existing graphic as it behaved before on-air control (issue 16): on air, in live
mode (each saved version goes to air), its current version the program, so no overlay goes
dark. Each gets an open air-log interval from now: what was on air before the log began is not
known. New graphics start off air with live mode off (the fields' defaults)."""

from django.db import migrations
from django.db.models import F
from django.utils import timezone

BATCH = 500
AIR_LOG_BEGAN = "on air when the air log began"


def put_existing_graphics_on_air(apps, schema_editor):
    Graphic = apps.get_model("graphics", "Graphic")
    AirInterval = apps.get_model("graphics", "AirInterval")
    # One statement: the live => on_air and on_air => program checks hold row by row.
    Graphic.objects.update(on_air=True, live=True, program_version=F("version"))
    now = timezone.now()
    last_pk = 0
    while True:
        batch = list(
            Graphic.objects.filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "title", "version")[:BATCH]
        )
        if not batch:
            return
        AirInterval.objects.bulk_create(
            AirInterval(
                graphic_id=pk,
                graphic_title=title,
                version=version,
                taken_at=now,
                taken_reason=AIR_LOG_BEGAN,
            )
            for pk, title, version in batch
        )
        last_pk = batch[-1][0]


class Migration(migrations.Migration):
    dependencies = [("graphics", "0006_on_air")]

    # Reversing drops the fields and the table in 0006, which takes these values with them.
    operations = [migrations.RunPython(put_existing_graphics_on_air, migrations.RunPython.noop)]
