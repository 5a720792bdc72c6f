"""
The results page in a real browser: a scorekeeper types a lobby's eight placements by keyboard
and saves; the standings beside the form update, and an open on-air overlay bound to the event
reorders its rows within a second of the save. Another scorekeeper's save shows up live. Wrong
input is refused field by field and nothing is saved; a correction keeps its reason.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from gal_dashboard.access import SCOREKEEPER
from graphics.on_air import graphic_take
from graphics.services import graphic_create, view_key_rotate
from standings import services
from standings.models import Result, ResultChange, Tournament
from tests.browser.conftest import outside_playwright, screenshot
from tests.conftest import list_element

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

EVENT = "GAL Browser Cup"
# Distinct first letters: two typed letters find each player.
PLAYERS = [
    "Aurora", "Blitz", "Cinder", "Drift", "Echo", "Flux", "Gale", "Halo",
    "Ion", "Jinx", "Kite", "Lumen", "Mako", "Nova", "Onyx", "Pike",
]  # fmt: skip


def event_with_a_round_played(user: Any) -> Tournament:
    """16 players; round 1 played in two lobbies (Aurora..Halo and Ion..Pike, 1st to 8th in
    that order), round 2 not yet: Aurora and Ion lead with 8 points, tied on every
    tie-breaker, so names order them (Aurora first)."""
    event = services.tournament_create(user=user, name=EVENT)
    ids = {
        name: services.player_create(user=user, tournament_id=event.pk, display_name=name).pk
        for name in PLAYERS
    }
    services.round_create(user=user, tournament_id=event.pk)
    for lobby, names in ((1, PLAYERS[:8]), (2, PLAYERS[8:])):
        services.lobby_results_save(
            user=user,
            tournament_id=event.pk,
            round_number=1,
            lobby_number=lobby,
            results=[{"player": ids[name], "placement": p} for p, name in enumerate(names, 1)],
        )
    services.round_create(user=user, tournament_id=event.pk)
    return Tournament.objects.get(pk=event.pk)


def standings_overlay(editor: Any) -> tuple[int, str]:
    """A graphic bound to the event (players | scores, total standings), on air, and its view
    key."""
    graphic = graphic_create(
        user=editor,
        title="Browser Cup Standings",
        event_name=EVENT,
        data={
            "background": None,
            "elements": [
                list_element("players", "players", preview_count=8),
                list_element("scores", "scores", x=600, preview_count=8),
            ],
        },
    )
    # On air (new graphics start off air); standings reach air without a take.
    graphic_take(user=editor, graphic_id=graphic.pk, expected_version=graphic.version)
    return graphic.pk, view_key_rotate(graphic_id=graphic.pk, user=editor).key


def on_air_rows(overlay: Any, element_id: str) -> Any:
    return overlay.locator(f'#overlay [data-element-id="{element_id}"] .row')


def type_lobby(page: Any, seats: list[tuple[str, str]], *, next_key: str = "Tab") -> None:
    """Type a lobby by keyboard from the first seat: a few letters of the name, `next_key`
    (Tab or Enter), the placement, `next_key`; the last placement keeps the cursor."""
    page.locator("#seat-player-1").focus()
    for index, (name, placement) in enumerate(seats):
        page.keyboard.type(name)
        page.keyboard.press(next_key)
        page.keyboard.type(placement)
        if index < len(seats) - 1:
            page.keyboard.press(next_key)


def open_results(page: Any, event: Tournament, round_number: int, *, next_lobby: int) -> None:
    """Pick the event and the round; the form offers the round's next free lobby."""
    page.goto("/results/")
    expect(page.locator("#connection-state")).to_have_attribute("data-state", "live")
    page.select_option("#event-select", str(event.pk))
    page.select_option("#round-select", str(round_number))
    expect(page.locator("#lobbies-round")).to_have_text(f"round {round_number}")
    expect(page.locator("#lobby-number")).to_have_value(str(next_lobby))


def standings_names(page: Any, table: str) -> Any:
    return page.locator(f"#standings-{table} tbody tr td.name")


def test_a_lobby_typed_by_keyboard_reorders_the_open_overlay_within_a_second(
    signed_in: Any, browser: Any, make_user: Any, editor: Any, live_server_app: Any
):
    scorekeeper = make_user("scorekeeper", role=SCOREKEEPER)
    event = outside_playwright(event_with_a_round_played, scorekeeper)
    graphic_id, key = outside_playwright(standings_overlay, editor)

    overlay = browser.new_page(base_url=live_server_app.url)  # no session: the key is enough
    overlay.goto(f"/overlay/{graphic_id}/?key={key}")
    expect(overlay.locator("#overlay")).to_have_attribute("data-state", "live")
    expect(on_air_rows(overlay, "players").first).to_have_text("Aurora")
    expect(on_air_rows(overlay, "scores").first).to_have_text("8 pts")

    page = signed_in(scorekeeper)
    open_results(page, event, 2, next_lobby=1)
    expect(standings_names(page, "total").first).to_have_text("Aurora")
    expect(page.locator("#entry-title")).to_have_text("New lobby 1")
    expect(page.locator("#reason")).to_be_hidden()  # asked for corrections only

    # Halo wins, Ion comes 5th (8 + 4 = 12 points: the new leader); two letters a name.
    type_lobby(
        page,
        [("Ha", "1"), ("Ga", "2"), ("Fl", "3"), ("Ec", "4"), ("Io", "5"), ("Ji", "6"),
         ("Ki", "7"), ("Lu", "8")],
    )  # fmt: skip
    expect(page.locator("#seat-player-1")).to_have_value("Halo")  # completed when Tab left it
    expect(page.locator("#seat-player-5")).to_have_value("Ion")
    with page.expect_response(lambda response: response.request.method == "PUT") as saved:
        page.click("#save-lobby")
        clicked_at = time.monotonic()
    expect(on_air_rows(overlay, "players").first).to_have_text("Ion", timeout=1000)
    latency = time.monotonic() - clicked_at
    assert saved.value.status == 200
    assert latency < 1.0, f"the overlay reordered {latency:.3f} s after the save click"
    print(f"results page save -> overlay reordered: {latency * 1000:.0f} ms")
    expect(on_air_rows(overlay, "scores").first).to_have_text("12 pts")

    # Beside the form: the total and the round's standings, the saved lobby, a fresh form.
    expect(standings_names(page, "total").first).to_have_text("Ion")
    expect(page.locator("#standings-total tbody tr").first.locator(".points")).to_have_text("12")
    expect(standings_names(page, "round").first).to_have_text("Halo")
    expect(page.locator("#lobby-1")).to_contain_text("1. Halo")
    expect(page.locator("#save-status")).to_have_text("Saved lobby 1 of round 2.")
    expect(page.locator("#lobby-number")).to_have_value("2")
    expect(page.locator("#seat-player-1")).to_have_value("")
    expect(page.locator("#seat-player-1")).to_be_focused()
    saved_rows = Result.objects.filter(round__tournament=event, round__number=2)
    assert sorted(saved_rows.values_list("player__display_name", "placement")) == sorted(
        [("Halo", 1), ("Gale", 2), ("Flux", 3), ("Echo", 4), ("Ion", 5), ("Jinx", 6),
         ("Kite", 7), ("Lumen", 8)]
    )  # fmt: skip
    screenshot(page, "results-page")

    # Another scorekeeper saves lobby 2 (Aurora wins it: 8 + 8 = 16, the new leader): this
    # page and the overlay follow without a reload.
    others = ["Aurora", "Blitz", "Cinder", "Drift", "Mako", "Nova", "Onyx", "Pike"]
    players = dict(event.players.values_list("display_name", "pk"))
    outside_playwright(
        services.lobby_results_save,
        user=scorekeeper,
        tournament_id=event.pk,
        round_number=2,
        lobby_number=2,
        results=[{"player": players[name], "placement": p} for p, name in enumerate(others, 1)],
    )
    expect(standings_names(page, "total").first).to_have_text("Aurora")
    expect(page.locator("#lobby-2")).to_contain_text("1. Aurora")
    expect(page.locator("#lobby-number")).to_have_value("3")
    expect(on_air_rows(overlay, "players").first).to_have_text("Aurora")
    overlay.close()


def test_wrong_placements_are_marked_on_their_fields_and_nothing_is_saved(
    signed_in: Any, make_user: Any
):
    scorekeeper = make_user("scorekeeper", role=SCOREKEEPER)
    event = outside_playwright(event_with_a_round_played, scorekeeper)
    page = signed_in(scorekeeper)
    open_results(page, event, 2, next_lobby=1)
    revision = event.revision

    # A 9th place, a 2nd place twice, typed with Enter between the fields; Enter on the last
    # row saves.
    type_lobby(
        page,
        [("Ha", "9"), ("Ga", "2"), ("Fl", "2"), ("Ec", "4"), ("Io", "5"), ("Ji", "6"),
         ("Ki", "7"), ("Lu", "8")],
        next_key="Enter",
    )  # fmt: skip
    expect(page.locator("#seat-player-8")).to_have_value("Lumen")
    with page.expect_response(lambda response: response.request.method == "PUT") as refused:
        page.keyboard.press("Enter")
    assert refused.value.status == 400
    expect(page.locator("#seat-placement-error-1")).to_contain_text("A placement from 1 to 8")
    expect(page.locator("#seat-placement-1")).to_have_attribute("aria-invalid", "true")
    # Both halves of the clash are marked, in seats rather than field paths.
    expect(page.locator("#seat-placement-error-3")).to_have_text(
        "Placement 2 is used twice in lobby 1 (also at seat 2)."
    )
    expect(page.locator("#seat-placement-error-2")).to_have_text("Clashes with seat 3.")
    expect(page.locator("#seat-placement-error-4")).to_have_text("")
    expect(page.locator("#seat-player-error-1")).to_have_text("")
    expect(page.locator("#save-status")).to_have_text("Nothing was saved: fix the marked fields.")
    expect(page.locator("#seat-placement-1")).to_be_focused()
    screenshot(page, "results-page-errors")

    def saved_state() -> tuple[int, int]:
        return (
            Result.objects.filter(round__tournament=event, round__number=2).count(),
            Tournament.objects.get(pk=event.pk).revision,
        )

    assert outside_playwright(saved_state) == (0, revision)
    expect(page.locator("#no-lobbies")).to_be_visible()

    # A name that is no player of the event is caught on the page, before any request.
    page.fill("#seat-player-4", "Zed")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#seat-player-error-4")).to_contain_text(
        'No player of GAL Browser Cup is called "Zed"'
    )
    assert outside_playwright(saved_state) == (0, revision)

    # Fixed: the marks go and the lobby saves (Ctrl+Enter from anywhere in the form).
    page.fill("#seat-player-4", "Echo")
    page.fill("#seat-placement-1", "1")
    page.fill("#seat-placement-3", "3")
    expect(page.locator("#seat-placement-error-1")).to_have_text("")
    page.locator("#seat-placement-3").press("Control+Enter")
    expect(page.locator("#save-status")).to_have_text("Saved lobby 1 of round 2.")
    expect(page.locator("#lobby-1")).to_contain_text("1. Halo")
    assert outside_playwright(saved_state) == (8, revision + 1)


def test_a_saved_lobby_is_corrected_with_a_reason(signed_in: Any, make_user: Any, viewer: Any):
    """A scorekeeper loads a saved lobby, swaps two placements and gives a reason; the audit
    keeps it. A viewer sees the same lobbies and standings, read-only."""
    scorekeeper = make_user("scorekeeper", role=SCOREKEEPER)
    event = outside_playwright(event_with_a_round_played, scorekeeper)
    watching = signed_in(viewer)
    watching.goto(f"/results/?event={event.pk}&round=1")  # the page's address keeps the choice
    expect(watching.locator("#lobby-1")).to_contain_text("1. Aurora · 2. Blitz")
    expect(standings_names(watching, "round").first).to_have_text("Aurora")
    expect(watching.locator("#read-only-note")).to_be_visible()
    assert watching.locator("#lobby-form, #add-round, #lobby-1 button").count() == 0

    page = signed_in(scorekeeper)
    open_results(page, event, 1, next_lobby=3)  # lobbies 1 and 2 have results
    expect(page.locator("#lobby-2")).to_contain_text("1. Ion")

    page.locator("#lobby-1").get_by_role("button", name="Correct").click()
    expect(page.locator("#entry-title")).to_have_text("Correcting lobby 1")
    expect(page.locator("#reason")).to_be_visible()
    expect(page.locator("#seat-player-1")).to_have_value("Aurora")
    expect(page.locator("#seat-placement-1")).to_be_focused()
    # Aurora and Blitz were swapped: 2nd and 1st.
    page.keyboard.type("2")
    page.fill("#seat-placement-2", "1")
    page.fill("#reason", "Misreported by the lobby")
    page.locator("#reason").press("Enter")
    expect(page.locator("#save-status")).to_have_text("Corrected lobby 1 of round 1.")
    expect(page.locator("#lobby-1")).to_contain_text("1. Blitz · 2. Aurora")
    expect(standings_names(page, "total").first).to_have_text("Blitz")

    changes = ResultChange.objects.filter(tournament=event, round_number=1, lobby_number=1)
    corrected = changes.filter(reason="Misreported by the lobby").order_by("player_name")
    assert [(c.player_name, c.old_placement, c.new_placement) for c in corrected] == [
        ("Aurora", 1, 2),
        ("Blitz", 2, 1),
    ]
    assert all(change.actor_id == scorekeeper.pk for change in corrected)
    watching.reload()
    expect(watching.locator("#lobby-1")).to_contain_text("1. Blitz · 2. Aurora")


def test_an_event_is_set_up_from_the_page(signed_in: Any, make_user: Any):
    """A new event, its players (one name per line) and a round, all from the page; a lobby of
    three then saves with placements 1 to 3, and a name already taken is refused by name."""
    scorekeeper = make_user("scorekeeper", role=SCOREKEEPER)
    page = signed_in(scorekeeper)
    page.goto("/results/")
    expect(page.locator("#no-event")).to_be_visible()

    page.locator("#results-setup summary").click()
    page.fill("#event-name", "GAL Qualifier")
    page.locator("#event-name").press("Enter")
    expect(page.locator("#event-select option:checked")).to_have_text("GAL Qualifier")
    expect(page.locator("#save-status")).to_have_text("This event has no round yet: add one.")
    page.fill("#player-names", "Mira\nTomo\n\nKessler\nMira")
    page.click("#players-form button[type=submit]")
    expect(page.locator("#player-names-error")).to_contain_text("Mira: ")
    expect(page.locator("#player-names")).to_have_value("Mira")  # what failed stays to fix
    expect(standings_names(page, "total")).to_have_text(["Kessler", "Mira", "Tomo"])

    page.click("#add-round")
    expect(page.locator("#round-select option:checked")).to_have_text("Round 1")
    expect(page.locator("#save-status")).to_have_text("Round 1 added.")
    type_lobby(page, [("To", "1"), ("Mi", "2"), ("Ke", "3")])
    page.keyboard.press("Control+Enter")
    expect(page.locator("#save-status")).to_have_text("Saved lobby 1 of round 1.")
    expect(standings_names(page, "total")).to_have_text(["Tomo", "Mira", "Kessler"])

    def saved() -> list[tuple[str, int, int]]:
        return sorted(
            Result.objects.filter(round__tournament__name="GAL Qualifier").values_list(
                "player__display_name", "placement", "points"
            )
        )

    assert outside_playwright(saved) == [("Kessler", 3, 6), ("Mira", 2, 7), ("Tomo", 1, 8)]
