"""
`python manage.py prune_events [--dry-run]`: delete events older than EVENT_RETENTION_SECONDS
that are not among the newest EVENT_RETENTION_MIN_EVENTS (see `realtime.delivery.retention`).

Run it from cron or a timer, e.g. hourly. Clients that resume from a seq it removed get a fresh
snapshot (`"recovered": false`) instead of a replay.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from realtime.delivery.retention import events_prune


class Command(BaseCommand):
    help = (
        "Delete events older than EVENT_RETENTION_SECONDS that are not among the newest "
        "EVENT_RETENTION_MIN_EVENTS, and record how far the log was pruned."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be deleted; delete nothing."
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        result = events_prune(dry_run=dry_run)
        rule = (
            f"older than {settings.EVENT_RETENTION_SECONDS} s and outside the newest "
            f"{settings.EVENT_RETENTION_MIN_EVENTS}"
        )
        verb = "Would delete" if dry_run else "Deleted"
        kept = f"{result.kept} event(s)"
        if result.first_kept is not None:
            kept += f" from seq {result.first_kept} on"
        self.stdout.write(
            f"{verb} {result.deleted} event(s) {rule}; "
            f"{'would keep' if dry_run else 'kept'} {kept}. "
            f"Resume and polling recover from seq {result.pruned_through} on."
        )
