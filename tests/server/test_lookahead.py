"""Generating just ahead of playback, on a simulated clock (no sleeps, no timing asserts)."""

from __future__ import annotations

from typing import Any

import pytest

from promptloop.errors import InputError
from promptloop.service.lookahead import GenerationTimer, LiveRunner, Lookahead, PlaybackQueue


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> bool:
        self.now += seconds
        return False  # not stopped


def test_lookahead_waits_until_the_queue_is_short():
    ahead = Lookahead(1.0)
    assert ahead.wait_before_next(buffered_s=10.0, generation_s=2.0) == 7.0
    assert ahead.wait_before_next(buffered_s=2.5, generation_s=2.0) == 0.0
    for bad in (-1.0, 31.0, True, "1"):
        with pytest.raises(InputError):
            Lookahead(bad)  # type: ignore[arg-type]


def test_queue_plays_segments_back_to_back_with_the_crossfade():
    clock = FakeClock()
    queue = PlaybackQueue(clock)
    assert queue.enqueue(6.5, 0.0) == 0.0  # first: now, no lead-in
    clock.now = 2.0
    assert queue.enqueue(6.5, 0.5) == pytest.approx(6.5)  # its new audio starts after the crossfade
    assert queue.buffered() == pytest.approx(10.5)
    clock.now = 20.0  # the player ran dry: the next one plays at once
    assert queue.enqueue(6.5, 0.5) == pytest.approx(20.5)


def test_timer_is_cautious():
    timer = GenerationTimer(initial_s=1.0)
    assert timer.estimate == 1.0
    for s in (0.5, 2.0, 0.7, 0.6):
        timer.record(s)
    assert timer.estimate == 2.0  # the slowest of the last three


def test_runner_makes_each_segment_just_before_the_music_runs_out():
    clock = FakeClock()
    made_at: list[float] = []
    queued_ahead: list[float] = []

    def make_segment() -> dict[str, Any] | None:
        if len(made_at) == 5:
            return None
        made_at.append(clock.now)
        clock.now += 0.8  # making a segment takes 0.8 s
        return {"index": len(made_at) - 1, "duration_s": 6.5}

    queue = PlaybackQueue(clock)
    runner = LiveRunner(make_segment, Lookahead(1.0), 0.5, queue=queue, timer=GenerationTimer(initial_s=0.8),
                        on_queued=lambda seg, at: queued_ahead.append(queue.buffered()), sleep=clock.sleep)
    runner.run()
    assert runner.error is None and len(made_at) == 5
    # after the first, each segment is asked for when 1.0 s (lookahead) + 0.8 s (making) remain,
    # so it lands with the lookahead to spare, never a backlog
    assert made_at[1] == pytest.approx(0.8 + 6.5 - 1.8)  # first lands at 0.8 s with 6.5 s queued
    for ahead in queued_ahead[1:]:
        assert ahead <= 6.5 + 1.0 + 1e-6
    gaps = [b - a for a, b in zip(made_at[1:], made_at[2:], strict=False)]
    assert gaps == pytest.approx([6.0] * 3)  # one request per segment of new audio


def test_runner_reports_errors_instead_of_dying_silently():
    def broken() -> dict[str, Any] | None:
        raise RuntimeError("generator down")

    runner = LiveRunner(broken, Lookahead(0.5), 0.0, sleep=lambda s: False)
    runner.run()
    assert isinstance(runner.error, RuntimeError)
