"""Create the three roles (Viewer, Editor, Lock admin) as groups with their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Kept literal here: a migration must not change when gal_dashboard.access changes later.
ROLE_PERMISSIONS = {
    "Viewer": [("graphics", "view_graphic")],
    "Editor": [
        ("graphics", "view_graphic"),
        ("graphics", "add_graphic"),
        ("graphics", "change_graphic"),
        ("locks", "acquire_lock"),
    ],
    "Lock admin": [
        ("graphics", "view_graphic"),
        ("graphics", "add_graphic"),
        ("graphics", "change_graphic"),
        ("locks", "acquire_lock"),
        ("graphics", "delete_graphic"),
        ("locks", "override_lock"),
    ],
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, permissions in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for app_label, codename in permissions:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("graphics", "0001_initial"),
        ("locks", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
