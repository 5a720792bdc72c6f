"""Give every existing graphic one history row for its current state.

A graphic still at version 1 and never archived has only ever been created, so its row says so;
any other graphic changed before history was kept, so its row is a "baseline": the state when
history began, by its last editor, at its last change. Later changes add versions after it.
"""

from django.db import migrations

BATCH = 500  # Canvases can be up to a megabyte each: copy them a batch at a time.


def only_created(graphic):
    return graphic.version == 1 and not graphic.archived


def record_baselines(apps, schema_editor):
    Graphic = apps.get_model("graphics", "Graphic")
    GraphicVersion = apps.get_model("graphics", "GraphicVersion")
    graphics = Graphic.objects.filter(versions__isnull=True).order_by("pk")
    last_pk = 0
    while True:
        batch = list(graphics.filter(pk__gt=last_pk)[:BATCH])
        if not batch:
            return
        GraphicVersion.objects.bulk_create(
            GraphicVersion(
                graphic_id=graphic.pk,
                version=graphic.version,
                action="created" if only_created(graphic) else "baseline",
                changed_fields=[],
                reason="",
                actor_id=(
                    graphic.created_by_id
                    if only_created(graphic)
                    else graphic.archived_by_id or graphic.updated_by_id
                ),
                created_at=graphic.created_at if only_created(graphic) else graphic.updated_at,
                title=graphic.title,
                event_name=graphic.event_name,
                data=graphic.data,
                archived=graphic.archived,
                archived_at=graphic.archived_at,
                archived_by_id=graphic.archived_by_id,
            )
            for graphic in batch
        )
        last_pk = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [("graphics", "0003_graphicversion")]

    # Reversing drops the table in 0003, which takes these rows with it.
    operations = [migrations.RunPython(record_baselines, migrations.RunPython.noop)]
