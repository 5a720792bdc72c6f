"""`Graphic.demo_key`: seed_demo finds its demo graphics by this key instead of by title, so a
demo graphic someone renamed is found again rather than made a second time (issue 18).

A development database seeded before this migration has its demo graphics found by title once
more, here: each (title, event name) below gives its oldest graphic the demo key, so the next
`make run` keeps them."""

from django.db import migrations, models

# seed_demo's demo graphics as it made them before demo keys: (demo key, title, event name).
# Copied, not imported: a migration must keep working whatever the command becomes.
DEMO_GRAPHICS = (
    ("week2-standings-top8", "Week 2 Standings", "GAL Season 3 Week 2"),
    ("week2-standings-9-to-16", "Week 2 Standings — 9 to 16", "GAL Season 3 Week 2"),
    ("round-scoreboard", "Round 3 Scoreboard", "GAL Season 3 Week 2"),
    ("player-card", "Player Card — SpatulaSage", "GAL Season 3 Week 2"),
    ("caster-lower-third", "Caster Lower Third", "GAL Season 3 Week 2"),
)


def key_the_seeded_demo_graphics(apps, schema_editor):
    Graphic = apps.get_model("graphics", "Graphic")
    for key, title, event_name in DEMO_GRAPHICS:
        first = (
            Graphic.objects.filter(title=title, event_name=event_name, demo_key__isnull=True)
            .order_by("pk")
            .first()
        )
        if first is not None:
            Graphic.objects.filter(pk=first.pk).update(demo_key=key)


class Migration(migrations.Migration):
    dependencies = [("graphics", "0007_on_air_existing_graphics")]

    operations = [
        migrations.AddField(
            model_name="graphic",
            name="demo_key",
            field=models.CharField(
                blank=True,
                editable=False,
                help_text="Names a graphic made by seed_demo, which finds it by this key.",
                max_length=64,
                null=True,
                unique=True,
            ),
        ),
        migrations.RunPython(key_the_seeded_demo_graphics, migrations.RunPython.noop),
    ]
