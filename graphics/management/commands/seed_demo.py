"""
`python manage.py seed_demo`: demo users in each role, the demo event's results and a few TFT
league graphics whose lists draw its standings.

Development only: the users have published passwords, so it refuses to run unless DEBUG is on
(or --force is given). Running it again changes nothing: users, the event and graphics that
exist are kept as they are, found by username, by event name and by each demo graphic's demo
key (`Graphic.demo_key`, so a demo graphic someone renamed is still found, not made again).
New demo graphics are taken to air, so the demo overlays show something after `make run`; every
run prints every demo graphic's overlay URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.urls import reverse

from gal_dashboard.access import EDITOR, LOCK_ADMIN, SCOREKEEPER, VIEWER
from gal_dashboard.errors import DomainError
from graphics.models import Graphic
from graphics.on_air import graphic_take
from graphics.selectors import overlay_url, view_key_active
from graphics.services import graphic_create, view_key_rotate
from standings.selectors import tournament_by_name
from standings.services import lobby_results_save, player_create, round_create, tournament_create


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
    DemoUser("scorekeeper", "scorekeeper-demo-pass", role=SCOREKEEPER),
)

# The editor account the demo graphics are attributed to.
DEMO_AUTHOR = "editor"
# The account the demo event's results are entered as, as a league's scorekeeper would.
DEMO_SCOREKEEPER = "scorekeeper"

SEASON = "GAL Season 3"
WEEK_2 = f"{SEASON} Week 2"

GOLD = "#f5c542"
WHITE = "#ffffff"

# The demo event's sixteen players: display name and Riot ID ("Name#TAG", or "" for none).
DEMO_PLAYERS: tuple[tuple[str, str], ...] = (
    ("SpatulaSage", "SpatulaSage#EUW"),
    ("HyperRollHana", "Hana#KR1"),
    ("Featherknight Fae", ""),
    ("LevelEightLuna", "Luna#LVL8"),
    ("Gold Hoarder", ""),
    ("ReRollRex", "ReRollRex#TFT"),
    ("Itemless Ivy", ""),
    ("Top4Tobi", "Tobi#TOP4"),
    ("Carousel Cass", ""),
    ("Streakmaster", "Streak#WIN"),
    ("Augment Andy", ""),
    ("Econ Elena", "Elena#ECON"),
    ("Pivot Pablo", ""),
    ("Fast9 Finn", "Finn#FAST9"),
    ("Loss Streak Lou", ""),
    ("Tacticool Tess", "Tess#GGWP"),
)

# Each round's two lobbies, every lobby in finishing order (1st to 8th). Chosen so that the
# standings show each of Riot's tie-breakers at work: three players on 14 points (ranks 6-8) are
# told apart by top-4 finishes plus firsts; of four on 12 points (ranks 9-12) that first rule
# puts Featherknight Fae ahead, the placement counts put Fast9 Finn last, and Carousel Cass and
# Gold Hoarder, equal on both, by their placement in the latest round.
DEMO_ROUNDS: tuple[tuple[tuple[str, ...], ...], ...] = (
    (
        ("SpatulaSage", "Itemless Ivy", "Top4Tobi", "HyperRollHana",
         "Gold Hoarder", "Featherknight Fae", "ReRollRex", "LevelEightLuna"),
        ("Streakmaster", "Econ Elena", "Carousel Cass", "Tacticool Tess",
         "Fast9 Finn", "Augment Andy", "Pivot Pablo", "Loss Streak Lou"),
    ),
    (
        ("HyperRollHana", "SpatulaSage", "Econ Elena", "Fast9 Finn",
         "Top4Tobi", "Loss Streak Lou", "Carousel Cass", "ReRollRex"),
        ("LevelEightLuna", "Streakmaster", "Gold Hoarder", "Pivot Pablo",
         "Tacticool Tess", "Itemless Ivy", "Augment Andy", "Featherknight Fae"),
    ),
    (
        ("Top4Tobi", "Streakmaster", "SpatulaSage", "Tacticool Tess",
         "Itemless Ivy", "Pivot Pablo", "HyperRollHana", "Loss Streak Lou"),
        ("Featherknight Fae", "Econ Elena", "Augment Andy", "LevelEightLuna",
         "Carousel Cass", "Fast9 Finn", "Gold Hoarder", "ReRollRex"),
    ),
)  # fmt: skip

# The player card's figures, from the results above so that the card agrees with the lists.
CARD_PLAYER = "SpatulaSage"
_CARD_PLACEMENTS = [
    lobby.index(CARD_PLAYER) + 1
    for round_lobbies in DEMO_ROUNDS
    for lobby in round_lobbies
    if CARD_PLAYER in lobby
]


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


def _columns(*, y: int, rows: int, start: int = 1, round_id: str = "total") -> list[dict]:
    """Three list elements side by side, row for row, drawing the same standings rows from
    rank `start` on: the rank (for a round's table, the placement in that round), the name
    and the points."""
    common: dict[str, Any] = {"y": y, "rows": rows, "start": start, "round_id": round_id}
    return [
        _list("placements", "placements", x=80, color=WHITE, **common),
        _list("players", "players", x=180, **common),
        _list("scores", "scores", x=620, color=WHITE, **common),
    ]


def _canvas(*elements: dict) -> dict:
    # No background image: the demo ships none, and a missing file would show as broken.
    return {"background": None, "elements": list(elements)}


GAMES = len(DEMO_ROUNDS)
LAST_ROUND = len(DEMO_ROUNDS)


@dataclass(frozen=True)
class DemoGraphic:
    # Names the demo graphic for good (Graphic.demo_key): titles are the operators' to change.
    key: str
    title: str
    event_name: str
    data: dict


DEMO_GRAPHICS: tuple[DemoGraphic, ...] = (
    DemoGraphic(
        "week2-standings-top8",
        "Week 2 Standings",
        WEEK_2,
        _canvas(
            _text("title", "Week 2 Standings", x=80, y=60, size=64, bold=True),
            _text(
                "subtitle",
                f"After {GAMES} of {GAMES} games · Top 8",
                x=80,
                y=140,
                size=28,
                color=GOLD,
            ),
            *_columns(y=220, rows=8),
        ),
    ),
    DemoGraphic(
        "week2-standings-9-to-16",
        "Week 2 Standings — 9 to 16",
        WEEK_2,
        _canvas(
            _text("title", "Week 2 Standings", x=80, y=60, size=64, bold=True),
            _text(
                "subtitle",
                f"After {GAMES} of {GAMES} games · Ranks 9 to 16",
                x=80,
                y=140,
                size=28,
                color=GOLD,
            ),
            *_columns(y=220, rows=8, start=9),
        ),
    ),
    DemoGraphic(
        "round-scoreboard",
        f"Round {LAST_ROUND} Scoreboard",
        WEEK_2,
        _canvas(
            _text("title", f"Round {LAST_ROUND} Scoreboard", x=80, y=60, size=64, bold=True),
            _text(
                "subtitle",
                "Placements and points, both lobbies",
                x=80,
                y=140,
                size=28,
                color=GOLD,
            ),
            *_columns(y=220, rows=16, round_id=f"round_{LAST_ROUND}"),
        ),
    ),
    DemoGraphic(
        "player-card",
        f"Player Card — {CARD_PLAYER}",
        WEEK_2,
        _canvas(
            _text("name", CARD_PLAYER, x=120, y=680, size=96, bold=True),
            _text("team", "Team Featherknight · EUW", x=120, y=800, size=36, color=GOLD),
            _text(
                "average",
                f"Average placement {sum(_CARD_PLACEMENTS) / GAMES:.1f}",
                x=120,
                y=870,
                size=32,
            ),
            _text(
                "top4",
                f"Top 4 in {sum(p <= 4 for p in _CARD_PLACEMENTS)} of {GAMES} games",
                x=120,
                y=920,
                size=32,
            ),
        ),
    ),
    DemoGraphic(
        "caster-lower-third",
        "Caster Lower Third",
        WEEK_2,
        _canvas(
            _text("casters", "Mira Vale & Tomo Kessler", x=160, y=900, size=44, bold=True),
            _text("role", "Casting · GAL Season 3", x=160, y=960, size=28, color=GOLD),
        ),
    ),
)


class Command(BaseCommand):
    help = (
        "Create the demo users (one per role, with development-only passwords), the demo event "
        "with 16 players and 3 rounds of results, and a few demo graphics drawing its standings. "
        "Safe to run repeatedly. Refuses unless DEBUG is on, or --force is given."
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
                "seed_demo: DEBUG is off, so no demo users, event or graphics were created. "
                "The demo accounts have published passwords; run with DEBUG=true for local "
                "development, or pass --force if you really mean it."
            )
            return
        with transaction.atomic():
            users = {demo.username: self._ensure_user(demo) for demo in DEMO_USERS}
        # The event before the graphics: each new graphic then starts out drawing its standings.
        self._ensure_event(users[DEMO_SCOREKEEPER], name=WEEK_2)
        author = users[DEMO_AUTHOR]
        for demo in DEMO_GRAPHICS:
            self._ensure_graphic(author, demo)
        scorekeeper = next(demo for demo in DEMO_USERS if demo.username == DEMO_SCOREKEEPER)
        self.stdout.write(
            f"Results page: {reverse('dashboard:results')} (sign in as {scorekeeper.username} / "
            f"{scorekeeper.password} to enter results)"
        )

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

    def _ensure_event(self, scorekeeper: Any, *, name: str) -> None:
        """The demo event with its players and every round's results, entered through the
        services as the scorekeeper; an event of that name that exists is kept as it is."""
        existing = tournament_by_name(name)
        if existing is not None:
            self.stdout.write(f"Event {name!r}: exists as #{existing.pk}, kept")
            return
        try:
            # One transaction: a failure halfway leaves no half-entered event for the next run
            # to keep.
            with transaction.atomic():
                event = tournament_create(user=scorekeeper, name=name)
                players = {
                    display_name: player_create(
                        user=scorekeeper,
                        tournament_id=event.pk,
                        display_name=display_name,
                        riot_id=riot_id,
                    ).pk
                    for display_name, riot_id in DEMO_PLAYERS
                }
                for number, lobbies in enumerate(DEMO_ROUNDS, start=1):
                    round_create(user=scorekeeper, tournament_id=event.pk, number=number)
                    for lobby_number, finishing_order in enumerate(lobbies, start=1):
                        lobby_results_save(
                            user=scorekeeper,
                            tournament_id=event.pk,
                            round_number=number,
                            lobby_number=lobby_number,
                            results=[
                                {"player": players[player], "placement": placement}
                                for placement, player in enumerate(finishing_order, start=1)
                            ],
                        )
        except DomainError as error:
            # E.g. an existing `scorekeeper` account that is no longer in the Scorekeeper role.
            raise CommandError(
                f"Could not create the event {name!r} as {scorekeeper.get_username()}: "
                f"{error.message}"
            ) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Event {name!r}: created as #{event.pk} with {len(DEMO_PLAYERS)} players and "
                f"{len(DEMO_ROUNDS)} rounds of results"
            )
        )

    def _ensure_graphic(self, author: Any, demo: DemoGraphic) -> None:
        """The demo graphic with `demo.key`, created (with an overlay view key, and taken to air)
        if there is none; either way its overlay URL is printed."""
        existing = Graphic.objects.filter(demo_key=demo.key).first()
        if existing is not None:
            self.stdout.write(
                f"Graphic {existing.title!r} ({existing.event_name}): exists as #{existing.pk}, "
                f"kept, {self._overlay(existing.pk)}"
            )
            return
        try:
            # One transaction: a graphic is never left without its demo key (the next run would
            # make it again) or its view key.
            with transaction.atomic():
                graphic = graphic_create(
                    user=author, title=demo.title, event_name=demo.event_name, data=demo.data
                )
                # The demo key is no content (no version, no event): a development marker that
                # only this command reads and writes.
                Graphic.objects.filter(pk=graphic.pk).update(demo_key=demo.key)
                # An overlay URL from the start, so that "Open overlay" works for the demo
                # viewer too (a Viewer may read a graphic's key but not make one).
                view_key_rotate(graphic_id=graphic.pk, user=author)
                # On air, so the demo overlays show something (new graphics start off air).
                graphic_take(
                    user=author,
                    graphic_id=graphic.pk,
                    expected_version=graphic.version,
                    reason="seed_demo",
                )
        except DomainError as error:
            # E.g. an existing `editor` account that is no longer in the Editor role.
            raise CommandError(
                f"Could not create {demo.title!r} as {author.get_username()}: {error.message}"
            ) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Graphic {demo.title!r} ({demo.event_name}): created as #{graphic.pk}, on air, "
                f"{self._overlay(graphic.pk)}"
            )
        )

    def _overlay(self, graphic_id: int) -> str:
        view_key = view_key_active(graphic_id=graphic_id)
        if view_key is None:
            return "no overlay URL (its view key was revoked: make one with Copy OBS URL)"
        return f"overlay {overlay_url(graphic_id, view_key.key)}"
