"""
`python manage.py prune_graphic_history [--graphic ID]`: apply GRAPHIC_HISTORY_MAX_VERSIONS now.

Every change already prunes its own graphic's history as it writes the new version, so this is
only needed after the setting is lowered, for graphics that will not change again soon. With
the setting at 0 (keep all) it deletes nothing.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from graphics.services import graphic_history_prune


class Command(BaseCommand):
    help = "Delete each graphic's versions beyond GRAPHIC_HISTORY_MAX_VERSIONS (0: keep all)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--graphic", type=int, help="Only this graphic's history.")

    def handle(self, *args: Any, **options: Any) -> None:
        keep = settings.GRAPHIC_HISTORY_MAX_VERSIONS
        deleted = graphic_history_prune(graphic_id=options["graphic"])
        limit = f"the newest {keep} per graphic" if keep > 0 else "all (the limit is 0)"
        self.stdout.write(f"Deleted {deleted} version(s); keeping {limit}.")
