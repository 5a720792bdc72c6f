"""
`manage.py import_results FILE --event NAME_OR_ID --user USERNAME [--reason TEXT]`: import a
results sheet (standings.imports) as that user, all or nothing, exactly as the upload endpoint
does. FILE `-` reads standard input. On failure nothing is saved, every problem is listed by
line and the command exits non-zero.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from gal_dashboard.errors import DomainError
from standings.imports import RESULTS_IMPORT_MAX_BYTES, results_import
from standings.models import Tournament
from standings.selectors import tournament_by_name


class Command(BaseCommand):
    help = (
        "Import results from a CSV sheet (player,round,placement[,lobby] or player,r1,r2,...) "
        "into an event, all or nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The CSV file (UTF-8); - reads standard input.")
        parser.add_argument("--event", required=True, help="The event's exact name, or its id.")
        parser.add_argument(
            "--user",
            required=True,
            help="Who imports: a user with the Scorekeeper role (or Lock admin, superuser).",
        )
        parser.add_argument("--reason", default="", help="Why; kept in the correction audit.")

    def handle(self, *args: Any, **options: Any) -> None:
        event = _event(options["event"])
        user = _user(options["user"])
        content = _read(options["file"])
        try:
            summary = results_import(
                user=user,
                tournament_id=event.pk,
                text=content,
                reason=options["reason"],
                field="file",
            )
        except DomainError as error:
            problems = [
                f"  {where}: {message}"
                for where, messages in error.details.items()
                for message in (messages if isinstance(messages, list) else [messages])
            ]
            raise CommandError("\n".join([error.message, *problems])) from None
        numbers = summary["rounds"]
        rounds = ("round " if len(numbers) == 1 else "rounds ") + ", ".join(map(str, numbers))
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {summary['imported']} results into “{event.name}” ({rounds}); "
                f"{summary['changed']} created, changed or removed."
            )
        )


def _event(name_or_id: str) -> Tournament:
    tournament = tournament_by_name(name_or_id)
    if tournament is None and name_or_id.isascii() and name_or_id.isdigit():
        tournament = Tournament.objects.filter(pk=int(name_or_id)).first()
    if tournament is None:
        raise CommandError(f"No event named or numbered {name_or_id!r}.")
    return tournament


def _user(username: str) -> Any:
    try:
        return get_user_model().objects.get_by_natural_key(username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"No user {username!r}.") from None


def _read(path: str) -> bytes:
    limit = RESULTS_IMPORT_MAX_BYTES
    try:
        if path == "-":
            content = sys.stdin.buffer.read(limit + 1)
            if len(content) > limit:
                raise CommandError(f"Standard input is over the limit of {limit} bytes.")
            return content
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size > limit:
                raise CommandError(f"{path} is {size} bytes; the limit is {limit} bytes.")
            return file.read(limit + 1)
    except OSError as error:
        raise CommandError(f"Cannot read {path}: {error.strerror}.") from None
