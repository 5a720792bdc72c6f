"""
The league's results: a tournament event, its players, rounds, lobbies and each player's
placement per round, from which the standings graphics draw (standings.scoring).

A `Tournament` is found by its `name`, which is what a graphic's `event_name` holds: a graphic
whose `event_name` equals a tournament's name is bound to that tournament's standings.

The rules a scorekeeper can break are the database's (one result per player per round, each
placement once per lobby, placements 1 to 8); standings.services checks the same rules first,
so that a request hears which field is wrong, and the constraints hold whatever path a write
takes (a shell, a bulk import, two scorekeepers at once).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

# 1st → 8 points ... 8th → 1 point: the usual TFT table (../shared/DOMAIN.md).
DEFAULT_POINTS_TABLE = [8, 7, 6, 5, 4, 3, 2, 1]
LOBBY_SIZE = 8


class TieBreaker(models.TextChoices):
    """Ways to order players with equal total points, applied in the event's order.

    Riot's official TFT tie-breakers are the first three, in that order (the default)."""

    TOP4_PLUS_FIRSTS = "top4_plus_firsts", "Top-4 finishes plus first places (a first counts twice)"
    PLACEMENT_COUNTS = "placement_counts", "Count of each placement, from 1st down"
    LATEST_PLACEMENT = "latest_placement", "Placement in the most recent round played"
    AVERAGE_PLACEMENT = "average_placement", "Lower average placement"
    BEST_PLACEMENT = "best_placement", "Better best placement"


def default_points_table() -> list[int]:
    return list(DEFAULT_POINTS_TABLE)


def default_tie_breakers() -> list[str]:
    return [
        TieBreaker.TOP4_PLUS_FIRSTS.value,
        TieBreaker.PLACEMENT_COUNTS.value,
        TieBreaker.LATEST_PLACEMENT.value,
    ]


class Tournament(models.Model):
    """A tournament event ("GAL Season 3 Week 2"): its scoring rules and its standings'
    revision, which every results change raises by one."""

    name = models.CharField(max_length=255, unique=True)
    # points_table[p - 1] is what placement p earns.
    points_table = models.JSONField(default=default_points_table)
    tie_breakers = models.JSONField(default=default_tie_breakers)
    revision = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("manage_results", "Can enter and correct results")]
        constraints = [
            models.CheckConstraint(condition=~models.Q(name=""), name="tournament_name_not_empty")
        ]

    def __str__(self) -> str:
        return self.name

    def points_for(self, placement: int) -> int:
        return int(self.points_table[placement - 1])


class Player(models.Model):
    tournament = models.ForeignKey(Tournament, on_delete=models.CASCADE, related_name="players")
    display_name = models.CharField(max_length=100)
    # Riot ID ("Name#TAG") and Discord id, both optional: how the league's bot names players.
    riot_id = models.CharField(max_length=100, blank=True, default="")
    discord_id = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tournament", "display_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tournament", "display_name"], name="player_name_unique_in_tournament"
            ),
            models.UniqueConstraint(
                fields=["tournament", "riot_id"],
                condition=~models.Q(riot_id=""),
                name="player_riot_id_unique_in_tournament",
            ),
            models.UniqueConstraint(
                fields=["tournament", "discord_id"],
                condition=~models.Q(discord_id=""),
                name="player_discord_id_unique_in_tournament",
            ),
            models.CheckConstraint(
                condition=~models.Q(display_name=""), name="player_display_name_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name


class Round(models.Model):
    """A round (game) of the event. Its standings are `round_<number>` (round_1, round_2...)."""

    tournament = models.ForeignKey(Tournament, on_delete=models.CASCADE, related_name="rounds")
    number = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tournament", "number"]
        constraints = [
            models.UniqueConstraint(fields=["tournament", "number"], name="round_number_unique"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="round_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.tournament.name} round {self.number}"

    @property
    def round_id(self) -> str:
        return f"round_{self.number}"


class Lobby(models.Model):
    """One lobby of a round: up to 8 players, each with one `Result`."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="lobbies")
    number = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["round", "number"]
        verbose_name_plural = "lobbies"
        constraints = [
            models.UniqueConstraint(fields=["round", "number"], name="lobby_number_unique"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="lobby_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.round} lobby {self.number}"


class Result(models.Model):
    """A player's placement in one round, and the points it earned under the event's table."""

    lobby = models.ForeignKey(Lobby, on_delete=models.CASCADE, related_name="results")
    # The lobby's round, kept here so the database can hold one result per player per round.
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="results")
    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="results")
    placement = models.PositiveSmallIntegerField()
    points = models.IntegerField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["round", "lobby", "placement"]
        constraints = [
            models.UniqueConstraint(fields=["round", "player"], name="result_one_per_player_round"),
            models.UniqueConstraint(
                fields=["lobby", "placement"], name="result_placement_once_per_lobby"
            ),
            models.CheckConstraint(
                condition=models.Q(placement__gte=1, placement__lte=LOBBY_SIZE),
                name="result_placement_1_to_8",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.player} #{self.placement} in {self.round}"


class ResultChangeSource(models.TextChoices):
    LOBBY = "lobby", "Lobby saved"
    IMPORT = "import", "CSV import"
    ADMIN = "admin", "Admin"
    POINTS_TABLE = "points_table", "Points table changed"
    DELETED = "deleted", "Deleted"


class ResultChange(models.Model):
    """The audit of results: one row per player whose result a write created, changed or
    removed, with who, when, how and why. Written by standings.services only, never edited.
    The names are copied so the record still reads after a player or the event is deleted."""

    tournament = models.ForeignKey(
        Tournament, null=True, on_delete=models.SET_NULL, related_name="result_changes"
    )
    tournament_name = models.CharField(max_length=255)
    round_number = models.PositiveSmallIntegerField()
    lobby_number = models.PositiveSmallIntegerField(null=True, blank=True)
    player = models.ForeignKey(Player, null=True, on_delete=models.SET_NULL, related_name="+")
    player_name = models.CharField(max_length=100)
    old_placement = models.PositiveSmallIntegerField(null=True, blank=True)
    new_placement = models.PositiveSmallIntegerField(null=True, blank=True)
    old_points = models.IntegerField(null=True, blank=True)
    new_points = models.IntegerField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=ResultChangeSource.choices)
    reason = models.TextField(blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return (
            f"{self.player_name} round {self.round_number}: "
            f"{self.old_placement} → {self.new_placement}"
        )
