"""
Live standings in a real browser: an overlay whose players | scores | placements columns draw
the event's real standings, reorders within a second of a scorekeeper's save while nothing
else on the canvas moves; tie-breakers and true ties show the same in every column; a rejected
import changes nothing on air; the editor shows the real rows and adds columns that line up.

Set-up writes go through the services (off Playwright's thread). The saves whose arrival on
screen is timed go through the server's REST API, as the league's bot or the results page send
them: a write made in the test process reaches the servers' hubs at once only through Redis
(the PostgreSQL + Redis pass), and otherwise from the event log, up to
EVENT_POLL_INTERVAL_SECONDS later, which is not the path a real save takes.

The event used throughout: eight players, lobbies of four (placements 1-4, points 8-7-6-5).
    round 1  lobby 1: Zephyr 1, Ash 2, Coral 3, Ezra 4    lobby 2: Fen 1, Gus 2, Dune 3, Hana 4
    round 2  lobby 1: Coral 1, Ezra 2, Ash 3, Zephyr 4    lobby 2: Dune 1, Fen 2, Hana 3, Gus 4
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from playwright.sync_api import expect

from gal_dashboard.access import SCOREKEEPER
from gal_dashboard.errors import ValidationFailed
from graphics.models import Graphic
from graphics.services import graphic_create, view_key_rotate
from realtime.models import Event
from standings.imports import results_import
from standings.models import Tournament
from standings.services import (
    lobby_results_save,
    player_create,
    round_create,
    tournament_create,
)
from tests.browser.conftest import PageErrors, outside_playwright, put_on_air, screenshot
from tests.conftest import list_element, text_element
from tests.e2e.conftest import RestClient, token_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

EVENT = "GAL Season 3 Week 2"
PLAYERS = ("Ash", "Coral", "Dune", "Ezra", "Fen", "Gus", "Hana", "Zephyr")
ROUND_1 = {1: ("Zephyr", "Ash", "Coral", "Ezra"), 2: ("Fen", "Gus", "Dune", "Hana")}
ROUND_2 = {1: ("Coral", "Ezra", "Ash", "Zephyr"), 2: ("Dune", "Fen", "Hana", "Gus")}
# The columns of a standings graphic: placement | name | points, on the same rows.
COLUMNS = ("placements", "players", "scores")


def dark_background() -> dict[str, Any]:
    """A broadcast-dark 1920x1080 background (a tiny PNG, stretched), so the screenshot reads."""
    from PIL import Image

    image = io.BytesIO()
    Image.new("RGB", (16, 9), (18, 22, 38)).save(image, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(image.getvalue()).decode()
    return {"image_url": url, "width": 1920, "height": 1080}


@pytest.fixture
def keeper(make_user: Any) -> Any:
    return make_user("keeper", role=SCOREKEEPER)


class Season:
    """The event, made through the services like a scorekeeper would (off Playwright's thread,
    so every save takes the normal after-commit publish path)."""

    def __init__(self, keeper: Any) -> None:
        self.keeper = keeper
        self.tournament_id, self.player_ids = outside_playwright(self._create)
        self.api: RestClient | None = None

    def through(self, server: Any) -> Season:
        """From now on, lobbies are saved through `server`'s REST API (PUT .../lobbies/N/)."""
        self.api = RestClient(server, token_for(self.keeper))
        return self

    def _create(self) -> tuple[int, dict[str, int]]:
        tournament = tournament_create(user=self.keeper, name=EVENT)
        ids = {
            name: player_create(user=self.keeper, tournament_id=tournament.pk, display_name=name).pk
            for name in PLAYERS
        }
        return tournament.pk, ids

    def play(self, number: int, lobbies: Mapping[int, tuple[str, ...]]) -> None:
        outside_playwright(round_create, user=self.keeper, tournament_id=self.tournament_id)
        for lobby in lobbies:
            self.save_lobby(number, lobby, lobbies[lobby])

    def save_lobby(self, number: int, lobby: int, names: tuple[str, ...]) -> None:
        results = [
            {"player": self.player_ids[name], "placement": placement}
            for placement, name in enumerate(names, start=1)
        ]
        if self.api is not None:
            path = f"{self.events_path}/rounds/{number}/lobbies/{lobby}/"
            saved = self.api.call_blocking("PUT", path, {"results": results})
            assert saved.status == 200, saved.body
            return
        outside_playwright(
            lobby_results_save,
            user=self.keeper,
            tournament_id=self.tournament_id,
            round_number=number,
            lobby_number=lobby,
            results=results,
        )

    @property
    def events_path(self) -> str:
        return f"/api/standings/events/{self.tournament_id}"


def standings_graphic(editor: Any, *, columns: tuple[str, ...] = COLUMNS, **fields: Any) -> Any:
    """A graphic of EVENT: a title and side-by-side list columns on the same rows."""
    x = {"placements": 40, "players": 160, "scores": 560}
    elements = [text_element("title", content="Week 2 Standings")]
    elements += [
        list_element(
            column,
            element_type=column,
            x=x[column],
            **{"y": 140, "spacing": 48, "font_size": 32, "preview_count": 8, **fields},
        )
        for column in columns
    ]
    graphic = outside_playwright(
        graphic_create,
        user=editor,
        title="Week 2 Standings",
        event_name=EVENT,
        data={"background": dark_background(), "elements": elements},
    )
    # On air (new graphics start off air); not live: standings reach air without a take.
    put_on_air(graphic, editor)
    return graphic


@pytest.fixture
def open_overlay(browser: Any, live_server_app: Any, editor: Any) -> Iterator[Any]:
    """open_overlay(graphic) -> its on-air page at 1920x1080, as OBS loads it (with a view
    key, no session). Any JavaScript error on it fails the test."""
    watcher = PageErrors()
    pages: list[Any] = []

    def open_page(graphic: Graphic) -> Any:
        key = outside_playwright(view_key_rotate, graphic_id=graphic.pk, user=editor).key
        page = browser.new_page(
            base_url=live_server_app.url, viewport={"width": 1920, "height": 1080}
        )
        pages.append(watcher.watch(page))
        page.goto(f"/overlay/{graphic.pk}/?key={key}")
        return page

    yield open_page
    for page in pages:
        page.close()
    assert not watcher.errors, f"JavaScript errors: {watcher.errors}"


def rows(page: Any, element_id: str, root: str = "#overlay") -> Any:
    return page.locator(f'{root} [data-element-id="{element_id}"] .row')


def expect_columns(page: Any, names: list[str], timeout: int | None = None) -> None:
    """The overlay's players column shows `names` (the other columns follow the same rows)."""
    expect(rows(page, "players")).to_have_text(names, timeout=timeout)


def column_attribute(page: Any, element_id: str, attribute: str) -> list[str]:
    return rows(page, element_id).evaluate_all(
        f"(nodes) => nodes.map((node) => node.getAttribute('{attribute}'))"
    )


def row_tops(page: Any, element_id: str) -> list[float]:
    return rows(page, element_id).evaluate_all(
        "(nodes) => nodes.map((node) => node.getBoundingClientRect().top)"
    )


AFTER_ROUND_1 = ["Fen", "Zephyr", "Ash", "Gus", "Coral", "Dune", "Ezra", "Hana"]
AFTER_ROUND_2_LOBBY_1 = ["Coral", "Zephyr", "Ash", "Ezra", "Fen", "Gus", "Dune", "Hana"]
AFTER_ROUND_2 = ["Fen", "Coral", "Dune", "Zephyr", "Ash", "Ezra", "Gus", "Hana"]


def test_the_overlay_draws_real_standings_and_reorders_within_a_second(
    open_overlay: Any, live_server_app: Any, editor: Any, keeper: Any
):
    """Names, points and placements of the event's standings, aligned row by row; a lobby
    saved by the scorekeeper reorders the open overlay within a second, and only the rows of
    the lists change: the title and the list elements stay the same nodes in the same place."""
    season = Season(keeper)
    season.play(1, ROUND_1)
    graphic = standings_graphic(editor)
    overlay = open_overlay(graphic)
    expect_columns(overlay, AFTER_ROUND_1)
    expect(rows(overlay, "scores")).to_have_text(
        ["8 pts"] * 2 + ["7 pts"] * 2 + ["6 pts"] * 2 + ["5 pts"] * 2
    )
    expect(rows(overlay, "placements")).to_have_text(
        ["1st", "1st", "3rd", "3rd", "5th", "5th", "7th", "7th"]
    )
    screenshot(overlay, "standings-overlay")
    for column in COLUMNS:
        assert row_tops(overlay, column) == [140 + 48 * row for row in range(8)], column
        assert column_attribute(overlay, column, "data-player-id") == [
            str(season.player_ids[name]) for name in AFTER_ROUND_1
        ]
    revision = overlay.locator("#overlay").get_attribute("data-standings-revision")
    version = overlay.locator("#overlay").get_attribute("data-version")
    overlay.evaluate(
        """() => {
          window.__kept = [...document.querySelectorAll('#overlay .canvas > *')];
          const title = document.querySelector('[data-element-id="title"]');
          window.__title = title.getBoundingClientRect().toJSON();
        }"""
    )

    outside_playwright(round_create, user=keeper, tournament_id=season.tournament_id)
    season.through(live_server_app).save_lobby(2, 1, ROUND_2[1])
    saved_at = time.monotonic()
    expect_columns(overlay, AFTER_ROUND_2_LOBBY_1, timeout=1000)
    latency = time.monotonic() - saved_at
    assert latency < 1.0, f"the overlay showed the new standings after {latency:.2f} s"
    print(f"overlay redraw latency: {latency * 1000:.0f} ms")

    expect(rows(overlay, "scores")).to_have_text(
        ["14 pts", "13 pts", "13 pts", "12 pts", "8 pts", "7 pts", "6 pts", "5 pts"]
    )
    expect(rows(overlay, "placements")).to_have_text(
        ["1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th"]
    )
    assert overlay.evaluate(
        """() => {
          const now = [...document.querySelectorAll('#overlay .canvas > *')];
          const title = document
            .querySelector('[data-element-id="title"]')
            .getBoundingClientRect()
            .toJSON();
          return now.length === window.__kept.length
            && now.every((node, index) => node === window.__kept[index])
            && JSON.stringify(title) === JSON.stringify(window.__title);
        }"""
    ), "a standings change redrew more than the lists' rows"
    assert overlay.locator("#overlay").get_attribute("data-version") == version
    assert overlay.locator("#overlay").get_attribute("data-standings-revision") != revision


def test_tie_breakers_and_true_ties_show_the_same_in_every_column(
    open_overlay: Any, editor: Any, keeper: Any
):
    """Equal points are ordered by Riot's tie-breakers (Zephyr's first puts him above Ash;
    Ezra's better latest placement above Gus), and players equal on everything (Coral and
    Dune) share a rank that every column shows the same way. A second graphic starting at 5
    shows ranks 5 to 8 on the same rows."""
    season = Season(keeper)
    season.play(1, ROUND_1)
    season.play(2, ROUND_2)
    graphic = standings_graphic(editor)
    overlay = open_overlay(graphic)
    expect_columns(overlay, AFTER_ROUND_2)
    expect(rows(overlay, "scores")).to_have_text(
        ["15 pts", "14 pts", "14 pts", "13 pts", "13 pts", "12 pts", "12 pts", "11 pts"]
    )
    expect(rows(overlay, "placements")).to_have_text(
        ["1st", "2nd", "2nd", "4th", "5th", "6th", "7th", "8th"]
    )
    for column in COLUMNS:
        assert column_attribute(overlay, column, "data-rank") == [
            "1",
            "2",
            "2",
            "4",
            "5",
            "6",
            "7",
            "8",
        ], column

    second = standings_graphic(editor, start=5, preview_count=4)
    overlay = open_overlay(second)
    expect_columns(overlay, ["Ash", "Ezra", "Gus", "Hana"])
    expect(rows(overlay, "placements")).to_have_text(["5th", "6th", "7th", "8th"])
    assert row_tops(overlay, "scores") == [140 + 48 * row for row in range(4)]


def test_a_rejected_import_changes_nothing_on_air(
    open_overlay: Any, live_server_app: Any, editor: Any, keeper: Any
):
    """A sheet with one bad line is refused whole, by the service and by the upload endpoint:
    no standings_update, no new revision, and the open overlay keeps its rows untouched (not
    even redrawn). The sheet, fixed, then shows."""
    season = Season(keeper).through(live_server_app)
    season.play(1, ROUND_1)
    graphic = standings_graphic(editor)
    overlay = open_overlay(graphic)
    expect_columns(overlay, AFTER_ROUND_1)
    overlay.evaluate(
        """() => {
          window.__mutations = 0;
          new MutationObserver((records) => { window.__mutations += records.length; }).observe(
            document.getElementById('overlay'),
            {subtree: true, childList: true, characterData: true, attributes: true},
          );
        }"""
    )
    events_before = Event.objects.filter(type="standings_update").count()
    revision_before = Tournament.objects.get(pk=season.tournament_id).revision
    # Round 2 as a sheet; Hana's placement (line 8) is out of range, so none of it may land.
    lines = ["player,round,placement"]
    lines += [f"{name},2,{placement}" for placement, name in enumerate(ROUND_2[1], start=1)]
    good = "\n".join([*lines, *(f"{n},2,{p}" for p, n in enumerate(ROUND_2[2], start=1))])
    bad = "\n".join([*lines, "Dune,2,1", "Fen,2,2", "Hana,2,9", "Gus,2,4"])

    with pytest.raises(ValidationFailed) as refused:
        outside_playwright(
            results_import, user=keeper, tournament_id=season.tournament_id, text=bad
        )
    assert "line 8, column placement" in refused.value.details, refused.value.details
    assert season.api is not None
    uploaded = season.api.call_blocking("POST", f"{season.events_path}/import/", {"csv": bad})
    assert uploaded.status == 400, uploaded.body
    assert uploaded.body["error"]["code"] == "validation_error"
    # Past EVENT_POLL_INTERVAL_SECONDS (2 s): even a change the servers could only have read
    # from the event log would have been drawn by now.
    overlay.wait_for_timeout(2500)
    assert overlay.evaluate("() => window.__mutations") == 0, "the overlay was redrawn"
    expect_columns(overlay, AFTER_ROUND_1)
    assert Event.objects.filter(type="standings_update").count() == events_before
    assert Tournament.objects.get(pk=season.tournament_id).revision == revision_before

    imported = season.api.call_blocking("POST", f"{season.events_path}/import/", {"csv": good})
    assert imported.status == 200, imported.body
    expect_columns(overlay, AFTER_ROUND_2)
    assert overlay.evaluate("() => window.__mutations") > 0


def test_the_editor_shows_real_rows_and_adds_a_scores_column(
    signed_in: Any, live_server_app: Any, editor: Any, keeper: Any
):
    """The editor draws the event's real rows (placeholders only without standings); a new
    `scores` column lands on the players column's rows, shows real points, follows a first
    rank set on the players column, saves, and redraws live when a result comes in."""
    season = Season(keeper)
    season.play(1, ROUND_1)
    graphic = standings_graphic(editor, columns=("players",))
    page = signed_in(editor)
    page.goto(f"/graphics/{graphic.pk}/edit/")
    expect(page.locator("#lock-status")).to_have_text("You are editing")
    expect(rows(page, "players", "#stage")).to_have_text(AFTER_ROUND_1)
    expect(page.locator("#standings-note")).to_have_text(f'Live standings of "{EVENT}".')

    page.locator('#element-list li[data-element-id="players"]').click()
    page.fill("#prop-start", "5")
    page.fill("#prop-preview-count", "4")
    expect(rows(page, "players", "#stage")).to_have_text(["Coral", "Dune", "Ezra", "Hana"])
    page.click("#add-scores")
    expect(page.locator("#prop-content")).to_be_hidden()  # lists have no text of their own
    expect(rows(page, "scores-3", "#stage")).to_have_text(["6 pts", "6 pts", "5 pts", "5 pts"])
    expect(page.locator("#prop-start")).to_have_value("5")
    players_tops = row_tops_in(page, "players")
    assert row_tops_in(page, "scores-3") == players_tops
    page.click("#save")
    expect(page.locator("#save-state")).to_have_text("Saved")
    screenshot(page, "standings-editor")

    elements = {e["id"]: e for e in Graphic.objects.get(pk=graphic.pk).data["elements"]}
    players, scores = elements["players"], elements["scores-3"]
    assert scores["type"] == "scores"
    assert (players["start"], players["preview_count"]) == (5, 4)
    assert (scores["start"], scores["preview_count"]) == (5, 4)
    assert (scores["y"], scores["spacing"]) == (players["y"], players["spacing"])
    assert scores["x"] > players["x"]

    outside_playwright(round_create, user=keeper, tournament_id=season.tournament_id)
    season.through(live_server_app).save_lobby(2, 1, ROUND_2[1])
    saved_at = time.monotonic()
    # Ranks 5 to 8 after round 2's lobby 1: Fen, Gus, Dune, Hana.
    expect(rows(page, "players", "#stage")).to_have_text(
        ["Fen", "Gus", "Dune", "Hana"], timeout=1000
    )
    latency = time.monotonic() - saved_at
    assert latency < 1.0, f"the editor showed the new standings after {latency:.2f} s"
    expect(rows(page, "scores-3", "#stage")).to_have_text(["8 pts", "7 pts", "6 pts", "5 pts"])

    # Both columns to round 1 alone: placeholders until saved, then that round's real rows.
    for element_id in ("players", "scores-3"):
        page.locator(f'#element-list li[data-element-id="{element_id}"]').click()
        page.select_option("#prop-round-kind", "round")
        expect(page.locator("#prop-round-number")).to_have_value("1")
    expect(rows(page, "players", "#stage")).to_have_text([f"Player {n}" for n in range(5, 9)])
    expect(page.locator("#standings-note")).to_contain_text("Save to show the standings")
    page.click("#save")
    expect(page.locator("#save-state")).to_have_text("Saved")
    expect(rows(page, "players", "#stage")).to_have_text(["Coral", "Dune", "Ezra", "Hana"])
    expect(rows(page, "scores-3", "#stage")).to_have_text(["6 pts", "6 pts", "5 pts", "5 pts"])
    saved = Graphic.objects.get(pk=graphic.pk).data["elements"]
    assert [element.get("round_id") for element in saved[1:]] == ["round_1", "round_1"]


def row_tops_in(page: Any, element_id: str) -> list[float]:
    return page.locator(f'#stage [data-element-id="{element_id}"] .row').evaluate_all(
        "(nodes) => nodes.map((node) => node.getBoundingClientRect().top)"
    )


def test_without_standings_the_overlay_says_so_and_the_editor_shows_placeholders(
    open_overlay: Any, signed_in: Any, editor: Any, keeper: Any
):
    """A graphic whose event does not exist yet: on air one quiet line where the names go and
    nothing in the other columns; in the editor, placeholder rows. Creating the event and
    saving its first lobby fills the open overlay."""
    graphic = standings_graphic(editor)
    overlay = open_overlay(graphic)
    expect(rows(overlay, "players")).to_have_text(["Standings to come"])
    expect(rows(overlay, "scores")).to_have_count(0)
    expect(rows(overlay, "placements")).to_have_count(0)
    assert "Player" not in overlay.locator("#overlay").inner_text()

    page = signed_in(editor)
    page.goto(f"/graphics/{graphic.pk}/edit/")
    expect(rows(page, "players", "#stage")).to_have_text([f"Player {n}" for n in range(1, 9)])
    expect(rows(page, "placements", "#stage").first).to_have_text("1st")
    expect(page.locator("#standings-note")).to_contain_text(f'No event named "{EVENT}" yet')

    season = Season(keeper)
    season.play(1, {1: ROUND_1[1]})
    expect_columns(overlay, ["Zephyr", "Ash", "Coral", "Ezra", "Dune", "Fen", "Gus", "Hana"])
    expect(rows(overlay, "scores")).to_have_text(
        ["8 pts", "7 pts", "6 pts", "5 pts", "\u2013", "\u2013", "\u2013", "\u2013"]
    )
    expect(rows(page, "players", "#stage").first).to_have_text("Zephyr")
