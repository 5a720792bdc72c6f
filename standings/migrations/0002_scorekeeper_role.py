"""Create the Scorekeeper role, and let every role read standings and Lock admins enter
results (gal_dashboard.access)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Kept literal here: a migration must not change when gal_dashboard.access changes later.
VIEW = ("standings", "view_tournament")
MANAGE = ("standings", "manage_results")
ADDED = {
    "Viewer": [VIEW],
    "Editor": [VIEW],
    "Lock admin": [VIEW, MANAGE],
    "Scorekeeper": [("graphics", "view_graphic"), VIEW, MANAGE],
}


def add_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, permissions in ADDED.items():
        group, _ = Group.objects.get_or_create(name=role)
        for app_label, codename in permissions:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.filter(name="Scorekeeper").delete()
    for group in Group.objects.filter(name__in=ADDED):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="standings")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("standings", "0001_initial"),
        ("graphics", "0002_roles"),
    ]

    operations = [migrations.RunPython(add_roles, remove_roles)]
