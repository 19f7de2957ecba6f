"""Live sessions generate just ahead of playback, so that what the listener says changes what they
hear next.

Generating a whole session as fast as possible (what "keep going" used to do) puts every segment
in the player's queue within seconds, and a chat message then changes nothing the listener hears.
Instead the next segment is asked for only when the audio queued ahead of the playhead has fallen
to *lookahead* seconds plus the time a segment takes to make, so it lands with about ``lookahead``
seconds to spare.  A message, a preference chip, a therapist change or a reading then reaches the
segment after the one being made: the feedback-to-ear latency is at most one segment length plus
the lookahead plus one generation time (``eval/bench_feedback_latency.py`` measures it).

The chat page keeps the same arithmetic in JavaScript (``server/static/chat.js``: ``scheduleNext``);
the terminal chat and the benchmark use :class:`LiveRunner`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from promptloop.errors import InputError

__all__ = ["DEFAULT_LOOKAHEAD_SECONDS", "LOOKAHEAD_BOUNDS", "GenerationTimer", "LiveRunner", "Lookahead",
           "PlaybackQueue", "lookahead_for"]

DEFAULT_LOOKAHEAD_SECONDS = 0.5
LOOKAHEAD_BOUNDS = (0.0, 30.0)
Clock = Callable[[], float]


@dataclass(frozen=True)
class Lookahead:
    """How many seconds of audio should still be queued ahead of the playhead when the next
    segment arrives."""

    seconds: float = DEFAULT_LOOKAHEAD_SECONDS

    def __post_init__(self) -> None:
        low, high = LOOKAHEAD_BOUNDS
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)) or not low <= self.seconds <= high:
            raise InputError(f"lookahead must be within [{low}, {high}] seconds, got {self.seconds!r}")

    def wait_before_next(self, buffered_s: float, generation_s: float) -> float:
        """Seconds to wait before asking for the next segment, given the audio queued ahead of the
        playhead and how long making a segment takes."""
        return max(0.0, buffered_s - self.seconds - generation_s)


def lookahead_for(spec: dict[str, Any], default: float) -> float:
    """The session's lookahead (stored with its spec) or the service default."""
    value = spec.get("lookahead_seconds")
    return float(value) if value is not None else float(default)


@dataclass
class GenerationTimer:
    """How long a segment takes to make: the slowest of the last few (a safe estimate)."""

    initial_s: float = 1.0
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=3))

    def record(self, seconds: float) -> None:
        self.recent.append(max(0.0, float(seconds)))

    @property
    def estimate(self) -> float:
        return max(self.recent) if self.recent else self.initial_s


class PlaybackQueue:
    """A player's queue on the wall clock, as the chat page keeps it with Web Audio: each segment
    starts where the one before ends, less the crossfade; a late one starts when it arrives."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.end = 0.0  # when the queued audio runs out (clock time)
        self.starts: list[float] = []  # when each queued segment's new audio starts playing

    def enqueue(self, duration_s: float, overlap_s: float) -> float:
        """Queue a segment (``overlap_s`` of it crossfades with the one before); its start time."""
        now = self.clock()
        if self.starts and self.end - overlap_s >= now:
            start = self.end - overlap_s
        else:  # the first segment, or the player ran dry: play it now
            start = now
        self.end = start + duration_s
        self.starts.append(start + (overlap_s if self.starts else 0.0))
        return self.starts[-1]

    def buffered(self) -> float:
        """Seconds of audio queued ahead of the playhead."""
        return max(0.0, self.end - self.clock())


class _Generates(Protocol):
    def __call__(self) -> dict[str, Any] | None: ...


class LiveRunner:
    """Drives one live session: makes the next segment when the lookahead says so, queues it on
    the player, and stops when the session is complete, on :meth:`stop`, or on an error.

    ``make_segment`` adds one segment and returns its view (None when the session is complete);
    ``on_queued(segment, starts_at)`` hears about each queued segment.
    """

    def __init__(self, make_segment: _Generates, lookahead: Lookahead, overlap_s: float, *,
                 queue: PlaybackQueue | None = None, timer: GenerationTimer | None = None,
                 on_queued: Callable[[dict[str, Any], float], None] | None = None,
                 sleep: Callable[[float], bool] | None = None) -> None:
        self.make_segment = make_segment
        self.lookahead = lookahead
        self.overlap_s = overlap_s
        self.queue = queue or PlaybackQueue()
        self.timer = timer or GenerationTimer()
        self.on_queued = on_queued or (lambda segment, at: None)
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait  # returns True when stopped
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Run to the end in this thread."""
        try:
            while not self._stop.is_set():
                wait = self.lookahead.wait_before_next(self.queue.buffered(), self.timer.estimate)
                if wait > 0 and self._sleep(wait):
                    return
                started = self.queue.clock()
                segment = self.make_segment()
                self.timer.record(self.queue.clock() - started)
                if segment is None:
                    return
                overlap = self.overlap_s if segment["index"] > 0 else 0.0
                at = self.queue.enqueue(float(segment["duration_s"]), overlap)
                self.on_queued(segment, at)
        except BaseException as exc:  # reported to the caller, who decides what to tell the listener
            self.error = exc

    def start(self) -> LiveRunner:
        self._thread = threading.Thread(target=self.run, name="promptloop-live", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
