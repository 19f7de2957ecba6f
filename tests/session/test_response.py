"""The response map: where a listener heads under music at a given arousal, learned from readings."""

from __future__ import annotations

import pytest

from promptloop.session.response import ResponseMap

GRID = [round(-1.0 + 0.05 * i, 2) for i in range(41)]


def test_without_samples_the_listener_is_taken_to_head_where_the_music_is() -> None:
    m = ResponseMap()
    assert m.predict(-0.6) == pytest.approx(-0.6)
    assert m.choose(-0.6, GRID) == pytest.approx(-0.6)


def test_a_listener_who_stalls_short_is_led_past_the_target() -> None:
    m = ResponseMap(explore=0.0)
    m.add(-0.6, -0.3)  # music at the target only brought them half way
    chosen = m.choose(-0.6, GRID)
    assert chosen < -0.6  # integral action: ask for more than the target
    assert m.predict(chosen) < -0.3


def test_where_calmer_music_worked_less_the_map_chooses_the_music_that_worked() -> None:
    m = ResponseMap(explore=0.0)
    for _ in range(3):  # a renderer whose slowest plans sound busier: non-monotonic response
        m.add(-0.6, -0.05)
        m.add(-0.9, 0.0)
        m.add(-0.3, -0.45)
    assert m.choose(-0.6, GRID) == pytest.approx(-0.3, abs=0.06)


def test_old_samples_count_less_than_new_ones() -> None:
    m = ResponseMap(decay=0.5, prior_weight=0.0)
    m.add(0.0, 0.4)
    m.add(0.0, -0.4)
    assert m.predict(0.0) < 0.0


def test_exploration_prefers_what_the_map_knows_least() -> None:
    m = ResponseMap(explore=0.3)
    for _ in range(4):
        m.add(-0.6, -0.45)
    assert abs(m.choose(-0.6, [-0.6, -0.2], explore=0.0) - -0.6) < 1e-9
    assert m.choose(-0.6, [-0.6, -0.2], explore=0.5) == -0.2


def test_binned_is_what_a_profile_keeps() -> None:
    m = ResponseMap()
    m.seed([(0.5, 0.2)], weight=1.0)
    m.add(-0.61, -0.2)
    m.add(-0.59, -0.4)
    assert m.binned(since=1) == [(-0.6, pytest.approx(-0.31, abs=0.02))]
    assert (0.5, 0.2) in m.binned()
