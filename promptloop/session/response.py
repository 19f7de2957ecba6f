"""Where this listener's arousal heads under music placed at a given arousal: learned from readings.

A generator does not put the music exactly where the plan asks (a text-to-music model follows its
prompt loosely; even the embedded renderer's slowest plans carry a busier pulse than their tempo
says), and listeners settle short of the music by their own amount.  So the waypoint that calms a
listener most is not always the calmest waypoint, and a pacer that places the music *at* the
target may never bring them there.  :class:`ResponseMap` keeps, for the waypoints played so far,
the arousal the readings say the listener was heading for (kernel regression over the waypoint's
arousal, recent segments weighted more), with the prior that the listener heads where the music
is; :meth:`ResponseMap.choose` picks the waypoint arousal predicted to bring them closest to
where the session wants them.

>>> m = ResponseMap()
>>> m.add(-0.6, -0.1)  # music at -0.6: the listener headed for -0.1 only
>>> m.choose(-0.6, [-0.8, -0.6, -0.4]) != -0.6
True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["ResponseMap"]


@dataclass
class ResponseMap:
    """Samples of (waypoint arousal, arousal the listener headed for, weight)."""

    bandwidth: float = 0.12  # how far along the arousal axis one sample informs the map
    prior_weight: float = 0.3  # weight of "the listener heads where the music is"
    decay: float = 0.85  # weight kept by older samples at each new segment
    prefer_asked: float = 0.25  # cost per unit of moving the waypoint off the asked arousal
    explore: float = 0.0  # optimism for waypoints the map knows little about (cost − explore/√evidence)
    samples: list[list[float]] = field(default_factory=list)

    def add(self, waypoint: float, headed: float, weight: float = 1.0) -> None:
        for s in self.samples:
            s[2] *= self.decay
        self.samples.append([waypoint, headed, weight])

    def seed(self, pairs: Iterable[Sequence[float]], weight: float) -> None:
        """Start from what earlier sessions learned (a profile's ``response``), at ``weight`` each."""
        self.samples.extend([float(w), float(h), weight] for w, h in pairs)

    def predict(self, waypoint: float) -> float:
        return self._fit(waypoint)[0]

    def _fit(self, waypoint: float) -> tuple[float, float]:
        num, den = self.prior_weight * waypoint, self.prior_weight
        for w, h, weight in self.samples:
            k = weight * math.exp(-0.5 * ((waypoint - w) / self.bandwidth) ** 2)
            num, den = num + k * h, den + k
        return num / den, den

    def choose(self, wanted: float, candidates: Sequence[float], explore: float | None = None) -> float:
        """The candidate waypoint arousal predicted to bring the listener closest to ``wanted``
        (ties go to the one nearest ``wanted`` itself); ``explore`` overrides the optimism."""
        optimism = self.explore if explore is None else explore

        def cost(c: float) -> float:
            predicted, evidence = self._fit(c)
            return abs(predicted - wanted) + self.prefer_asked * abs(c - wanted) - optimism / math.sqrt(evidence)

        return min(candidates, key=cost)

    def binned(self, width: float = 0.1, since: int = 0) -> list[tuple[float, float]]:
        """The samples from ``since`` on averaged per waypoint bin (what a profile keeps)."""
        bins: dict[int, list[float]] = {}
        for w, h, weight in self.samples[since:]:
            slot = bins.setdefault(round(w / width), [0.0, 0.0])
            slot[0] += weight * h
            slot[1] += weight
        return [(round(k * width, 3), round(max(-1.5, min(1.5, v[0] / v[1])), 3))
                for k, v in sorted(bins.items()) if v[1] > 0]
