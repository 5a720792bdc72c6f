"""
`python manage.py seed_demo`: demo users in each role and a few TFT league graphics.

Development only: the users have published passwords, so it refuses to run unless DEBUG is on
(or --force is given). Running it again changes nothing: users and graphics that exist are kept
as they are, found by username and by (title, event_name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from gal_dashboard.access import EDITOR, LOCK_ADMIN, VIEWER
from gal_dashboard.errors import DomainError
from graphics.selectors import graphic_list, overlay_url
from graphics.services import graphic_create, view_key_rotate


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: str | None  # None: a superuser, who needs no role
    # Staff may sign in to /admin/; the lock admin uses it to force-release and take over locks.
    staff: bool = False


DEMO_USERS = (
    DemoUser("admin", "admin-demo-pass", role=None, staff=True),
    DemoUser("editor", "editor-demo-pass", role=EDITOR),
    DemoUser("editor2", "editor2-demo-pass", role=EDITOR),
    DemoUser("lockadmin", "lockadmin-demo-pass", role=LOCK_ADMIN, staff=True),
    DemoUser("viewer", "viewer-demo-pass", role=VIEWER),
)

# The editor account the demo graphics are attributed to.
DEMO_AUTHOR = "editor"

SEASON = "GAL Season 3"
WEEK_2 = f"{SEASON} Week 2"

GOLD = "#f5c542"
WHITE = "#ffffff"


def _text(element_id: str, content: str, *, x: int, y: int, size: int, **style: Any) -> dict:
    return {
        "id": element_id,
        "type": "text",
        "x": x,
        "y": y,
        "font_size": size,
        "color": style.pop("color", WHITE),
        "content": content,
        **style,
    }


def _list(element_id: str, element_type: str, *, x: int, y: int, rows: int, **extra: Any) -> dict:
    return {
        "id": element_id,
        "type": element_type,
        "x": x,
        "y": y,
        "font_size": 32,
        "color": GOLD,
        "spacing": 48,
        "preview_count": rows,
        **extra,
    }


def _canvas(*elements: dict) -> dict:
    # No background image: the demo ships none, and a missing file would show as broken.
    return {"background": None, "elements": list(elements)}


DEMO_GRAPHICS: tuple[tuple[str, str, dict], ...] = (
    (
        "Week 2 Standings",
        WEEK_2,
        _canvas(
            _text("title", "Week 2 Standings", x=80, y=60, size=64, bold=True),
            _text("subtitle", "After 6 of 6 games", x=80, y=140, size=28, color=GOLD),
            _list("standings", "players", x=80, y=220, rows=16),
        ),
    ),
    (
        "Round 4 Scoreboard",
        WEEK_2,
        _canvas(
            _text("title", "Round 4 Scoreboard", x=80, y=60, size=64, bold=True),
            _list("scores", "scores", x=80, y=200, rows=8, round_id=4),
        ),
    ),
    (
        "Player Card — SpatulaSage",
        WEEK_2,
        _canvas(
            _text("name", "SpatulaSage", x=120, y=680, size=96, bold=True),
            _text("team", "Team Featherknight · EUW", x=120, y=800, size=36, color=GOLD),
            _text("average", "Average placement 3.4", x=120, y=870, size=32),
            _text("top4", "Top 4 in 11 of 18 games", x=120, y=920, size=32),
        ),
    ),
    (
        "Caster Lower Third",
        WEEK_2,
        _canvas(
            _text("casters", "Mira Vale & Tomo Kessler", x=160, y=900, size=44, bold=True),
            _text("role", "Casting · GAL Season 3", x=160, y=960, size=28, color=GOLD),
        ),
    ),
    (
        "Lobby A Placements",
        WEEK_2,
        _canvas(
            _text("title", "Lobby A — Game 4 Placements", x=80, y=60, size=56, bold=True),
            _list("placements", "placements", x=80, y=180, rows=8, round_id="lobby-a-game-4"),
        ),
    ),
)


class Command(BaseCommand):
    help = (
        "Create the demo users (one per role, with development-only passwords) and a few demo "
        "graphics. Safe to run repeatedly. Refuses unless DEBUG is on, or --force is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off. The demo passwords are public: never on production.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            # A message rather than an error: `make run` calls this on every start, and a server
            # started with DEBUG=false should still come up, just without the demo accounts.
            self.stderr.write(
                "seed_demo: DEBUG is off, so no demo users or graphics were created. "
                "The demo accounts have published passwords; run with DEBUG=true for local "
                "development, or pass --force if you really mean it."
            )
            return
        with transaction.atomic():
            users = {demo.username: self._ensure_user(demo) for demo in DEMO_USERS}
        author = users[DEMO_AUTHOR]
        for title, event_name, data in DEMO_GRAPHICS:
            self._ensure_graphic(author, title=title, event_name=event_name, data=data)

    def _ensure_user(self, demo: DemoUser) -> Any:
        user_model = get_user_model()
        user = user_model.objects.filter(username=demo.username).first()
        if user is not None:
            # An existing account keeps its password and groups: someone may have changed them.
            self.stdout.write(f"User {demo.username}: exists, kept")
            return user
        if demo.role is None:
            user = user_model.objects.create_superuser(
                username=demo.username, email=f"{demo.username}@example.com", password=demo.password
            )
        else:
            user = user_model.objects.create_user(
                username=demo.username, password=demo.password, is_staff=demo.staff
            )
            user.groups.add(Group.objects.get(name=demo.role))
        role = demo.role or "superuser"
        self.stdout.write(self.style.SUCCESS(f"User {demo.username}: created ({role})"))
        return user

    def _ensure_graphic(self, author: Any, *, title: str, event_name: str, data: dict) -> None:
        existing = graphic_list(archived="all", event_name=event_name).filter(title=title).first()
        if existing is not None:
            self.stdout.write(f"Graphic {title!r} ({event_name}): exists as #{existing.pk}, kept")
            return
        try:
            graphic = graphic_create(user=author, title=title, event_name=event_name, data=data)
        except DomainError as error:
            # E.g. an existing `editor` account that is no longer in the Editor role.
            raise CommandError(
                f"Could not create {title!r} as {author.get_username()}: {error.message}"
            ) from error
        # An overlay URL from the start, so that "Open overlay" works for the demo viewer too
        # (a Viewer may read a graphic's key but not make one).
        view_key = view_key_rotate(graphic_id=graphic.pk, user=author)
        self.stdout.write(
            self.style.SUCCESS(
                f"Graphic {title!r} ({event_name}): created as #{graphic.pk}, "
                f"overlay {overlay_url(graphic.pk, view_key.key)}"
            )
        )
