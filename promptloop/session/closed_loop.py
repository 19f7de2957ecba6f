"""A closed-loop pacer: wearable readings decide when the path holds, moves on or backs off.

The open-loop :class:`~promptloop.session.pacing.IsoPacer` walks from the start to the target in
equal steps whatever the listener does.  :class:`ReadingPacer` keeps a belief of where the listener
is and places each segment on a faster schedule, but never further ahead of that belief than the
music can lead them (its *lead*):

* **belief** — arousal from the readings (heart rate, RMSSD, skin conductance through
  :func:`promptloop.acquisition.physio.estimate_affect`), each signal taken relative to its own
  first reading so calibration offsets cancel, fused with a first-order model of the listener
  following the music (a scalar Kalman filter; dropouts simply skip the update).  Valence is not
  seen by these sensors, so it follows the model alone — until the listener says how they feel
  (the chat: "I feel sad", "calmer"): a self-report sets the valence belief and is one more,
  noisier measurement of arousal (:meth:`ReadingPacer.report`);
* **hold** — the listener has not followed: the belief stays behind, so the waypoint stays within
  the lead of it instead of running off along the schedule;
* **move on** — they followed: the belief advances and the waypoint with it;
* **back off** — arousal moved the wrong way by more than the noise allows: the next segment moves
  toward the listener (a comfortable step at most, never past the target); the sounds that segment
  introduced become suspects (avoided for the rest of the session), and when calming music was
  loud the loudness ceiling comes down;
* **probe** — a sound that has played from the start is never "introduced", so a trigger among
  the session's first sounds would never be found.  When the music is not working (a back-off
  that no new sound explains, or two segments without progress toward the target) and the readings
  place the listener more aroused than the model of following the music predicts, the pacer leaves
  out one of the sounds playing (for ``probe_segments`` segments) and compares the two segments
  before with the probe's: when the readings came down toward the model by more than
  ``trigger_margin`` the sound is a suspect; one that makes no difference comes back.  A listener
  within ``settled`` of the target's arousal has not stalled (there is nothing left to gain), and
  no probe starts that could not end before the session's closing ``exploit_share``.

What the session learned is :meth:`ReadingPacer.learned` (a
:class:`~promptloop.representation.profile.ProfileUpdate` for the listener's profile); a profile's
``lead`` and ``follow`` set the pacing prior of the next session.  Constants were tuned on the
twin population's tuning seeds only (docs/evaluation.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from promptloop.acquisition.affect import Affect
from promptloop.acquisition.physio import Baseline, Readings, estimate_affect
from promptloop.representation.preferences import Preferences
from promptloop.representation.profile import ListenerProfile, ProfileUpdate
from promptloop.representation.vocabulary import INSTRUMENTS, TEXTURES, canonical
from promptloop.session.pacing import PaceContext, Pacer, Waypoint
from promptloop.session.provenance import SegmentRecord
from promptloop.session.response import ResponseMap

if TYPE_CHECKING:
    from promptloop.session.loop import LoopSession

__all__ = ["PacerSettings", "ReadingPacer", "apply_readings", "sounds_named"]

#: Arousal per unit of each signal's contribution in ``estimate_affect`` for a typical listener,
#: and the noise of one reading in arousal units (docs/evaluation.md, the twin's wearable).
_SENSITIVITY = {"heart_rate": 0.30, "hrv_rmssd": 0.22, "skin_conductance": 0.20}
_NOISE = {"heart_rate": 0.30, "hrv_rmssd": 0.45, "skin_conductance": 0.15}
_QUIET_ENOUGH_LUFS = -27.0


@dataclass(frozen=True)
class PacerSettings:
    """The pacer's constants (tuned on the twin population's tuning seeds)."""

    lead: float = 0.8  # how far (valence counted half) the music may be ahead of the listener
    arrive: float = 0.45  # share of the session by which the schedule reaches the target
    valence_weight: float = 0.5
    tau_s: float = 6.0  # the model's time constant for following the music
    process_var: float = 0.004
    model_error: float = 0.3  # share of the modelled move that may be wrong
    against: float = 0.12  # a move this far the wrong way is the music working against them
    stall: float = 0.03  # calming music that moves arousal less than this does not work
    follow_share: float = 0.5  # share of the way to where they head that a listener covers in one segment
    max_offset: float = 0.3  # how far the waypoint's arousal may move off the schedule to reach it
    offset_step: float = 0.05
    bandwidth: float = 0.12  # of the response map (promptloop.session.response)
    prior_weight: float = 0.3
    decay: float = 0.85
    prefer_asked: float = 0.25
    explore: float = 0.1
    exploit_share: float = 0.25  # the last share of the session only exploits what the map knows
    max_beyond: float = 0.0  # the waypoint goes at most this far past where the listener is wanted
    profile_weight: float = 0.5  # weight of each point of a profile's response curve
    sooner: float = 0.75  # a listener who followed without a back-off reaches the target this much sooner next time
    fastest_arrive: float = 0.25
    offset_reach: float = 0.25  # a profile's offset applies to targets this close in arousal
    offset_weight: float = 1.0
    ceiling_evidence: int = 2  # loudness ceilings lowered this often (and once followed by calmer readings) go into the profile
    probe_after: float = 0.08  # readings above the model by this much (mean of the last two segments) start a probe
    probe_segments: int = 2  # segments a probed sound is left out
    trigger_margin: float = 0.15  # readings minus model before a probe, minus during it, that make the sound a suspect
    settled: float = 0.15  # arousal this close to the target's is not a stall (nothing is left to gain by probing)
    report_var: float = 0.0625  # a self-report's arousal variance: one step (0.25) of the 9-point SAM scale


def sounds_named(prompt: str) -> frozenset[str]:
    """The vocabulary's instruments and textures a prompt names (multi-word names and aliases count;
    the longest name wins, so "electric piano" is not also "piano")."""
    from promptloop.representation.vocabulary import _ALIASES

    text = prompt.lower()
    names = {t: t for t in (*INSTRUMENTS, *TEXTURES)} | {a: canonical(a) for a in _ALIASES}
    found: set[str] = set()
    for phrase in sorted(names, key=len, reverse=True):
        pattern = rf"(?<![a-z]){re.escape(phrase)}(?![a-z])"
        if re.search(pattern, text):
            term = canonical(names[phrase])
            if term in INSTRUMENTS or term in TEXTURES:
                found.add(term)
            text = re.sub(pattern, " ", text)
    return frozenset(found)


@dataclass
class ReadingPacer(Pacer):
    """Registered nowhere: the harness and the service build one per session that has readings."""

    start: Affect
    baseline: Baseline = field(default_factory=Baseline)
    settings: PacerSettings = field(default_factory=PacerSettings)
    profile: ListenerProfile | None = None
    name: str = "reading"
    valence: float = 0.0
    arousal: float = 0.0
    variance: float = 0.01
    suspects: set[str] = field(default_factory=set)
    ceiling: float | None = None
    decisions: list[str] = field(default_factory=list)
    _anchor: dict[str, float] = field(default_factory=dict)
    _last_sounds: frozenset[str] | None = None
    _backoff: bool = False
    _followed_tempo: list[float] = field(default_factory=list)
    _moves: list[tuple[float, float]] = field(default_factory=list)  # (modelled, observed)
    _measured: float | None = None  # the last readings' arousal
    response: ResponseMap = field(default_factory=ResponseMap)
    _seeded: int = 0
    _quieter: int = 0  # times the session lowered the loudness ceiling
    _quieter_pending: bool = False
    _quieter_confirmed: int = 0  # times arousal fell in the segment after the ceiling came down
    _at_target: bool = False  # the schedule has reached the target
    _closest: tuple[float, float, float] | None = None  # (arousal miss, target arousal, waypoint offset)
    _offsets: list[tuple[float, float]] = field(default_factory=list)  # the profile's (target arousal, offset)
    _seeded_target: float | None = None
    _innovations: list[float] = field(default_factory=list)  # per segment: the readings' arousal minus the model's
    _probe: str | None = None  # the sound left out to test it
    _probe_left: int = 0
    _probe_before: float = 0.0  # readings minus model over the two segments before the probe
    _backoff_blamed: int = 0  # sounds the last back-off could blame (it introduced them)
    _beliefs: list[float] = field(default_factory=list)  # the arousal belief after each segment
    _probed: set[str] = field(default_factory=set)
    _added: set[str] = field(default_factory=set)  # sounds this pacer put on the avoid-list
    _segments: int = 0  # the session's length, as the last waypoint's context gave it
    _reported: bool = False  # the listener said how they feel since the last waypoint

    def __post_init__(self) -> None:
        self.valence, self.arousal = self.start.valence, self.start.arousal
        if self.profile is not None and self.profile.lead is not None:
            self.settings = replace(self.settings, lead=self.profile.lead)
        if self.profile is not None and self.profile.arrive is not None:
            self.settings = replace(self.settings, arrive=self.profile.arrive)
        s = self.settings
        self.response = ResponseMap(bandwidth=s.bandwidth, prior_weight=s.prior_weight, decay=s.decay,
                                    prefer_asked=s.prefer_asked, explore=s.explore)
        if self.profile is not None and self.profile.response:
            self.response.seed(self.profile.response, s.profile_weight)
        self._seeded = len(self.response.samples)
        self._offsets = list(self.profile.offsets) if self.profile is not None else []

    # -- saving and restoring (the service rebuilds a session's loop from the database) -------------
    def state(self) -> dict[str, Any]:
        """Everything this pacer knows, as JSON-ready data (:meth:`from_state` restores it exactly)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Affect):
                value = value.to_dict()
            elif isinstance(value, ListenerProfile):
                value = value.model_dump(mode="json")
            elif isinstance(value, (Baseline, PacerSettings, ResponseMap)):
                value = asdict(value)
            elif isinstance(value, (set, frozenset)):
                value = sorted(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, list):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            out[f.name] = value
        return out

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ReadingPacer:
        """The pacer :meth:`state` described."""
        profile = state.get("profile")
        pacer = cls(Affect(**state["start"]), Baseline(**state["baseline"]), PacerSettings(**state["settings"]),
                    ListenerProfile.model_validate(profile) if profile is not None else None)
        restore: dict[str, Any] = {
            "response": lambda v: ResponseMap(**v),
            "suspects": set, "_probed": set, "_added": set,
            "_last_sounds": lambda v: None if v is None else frozenset(v),
            "_closest": lambda v: None if v is None else tuple(v),
            "_moves": lambda v: [tuple(m) for m in v], "_offsets": lambda v: [tuple(o) for o in v],
        }
        for f in fields(cls):
            if f.name in ("start", "baseline", "settings", "profile") or f.name not in state:
                continue  # a field a later version added starts at its default
            value = state[f.name]
            setattr(pacer, f.name, restore[f.name](value) if f.name in restore else value)
        return pacer

    # -- readings ----------------------------------------------------------------------------------
    def _measure(self, readings: Sequence[Readings]) -> tuple[float, float] | None:
        sums: dict[str, list[float]] = {}
        for r in readings:
            for k, c in estimate_affect(r, self.baseline).contributions.items():
                if k in _SENSITIVITY:
                    sums.setdefault(k, []).append(c["arousal"])
        num = den = 0.0
        for k, values in sums.items():
            value = sum(values) / len(values)
            if k not in self._anchor:  # first sight of this signal: anchor it on the belief
                self._anchor[k] = value - _SENSITIVITY[k] * self.arousal
                continue
            weight = len(values) / _NOISE[k] ** 2
            num += weight * (value - self._anchor[k]) / _SENSITIVITY[k]
            den += weight
        return (num / den, 1.0 / den) if den else None

    def report(self, said: Affect) -> None:
        """The listener's own word on how they feel.  No sensor reads valence, so the belief takes
        theirs; arousal is weighed against the readings' belief as one more measurement, with the
        noise of a self-assessment rating (``report_var``)."""
        gain = self.variance / (self.variance + self.settings.report_var)
        self.valence = max(-1.0, min(1.0, said.valence))
        self.arousal = max(-1.0, min(1.0, self.arousal + gain * (said.arousal - self.arousal)))
        self.variance *= 1.0 - gain
        self._reported = True
        self.decisions.append(f"self-report: v {said.valence:+.2f}, a {said.arousal:+.2f}")

    def observe(self, readings: Sequence[Readings], last: SegmentRecord | None = None,
                target: Affect | None = None) -> None:
        """Readings taken after ``last`` played (or before the first segment, with ``last=None``)."""
        s = self.settings
        before = self.arousal
        music = Affect(last.estimated.valence, last.estimated.arousal) if last is not None else None
        modelled = 0.0
        if music is not None and last is not None:
            k = 1.0 - math.exp(-last.duration_s / s.tau_s)
            modelled = k * (music.arousal - self.arousal)
            self.arousal += modelled
            self.valence += k * (music.valence - self.valence)
            self.variance += s.process_var + (s.model_error * modelled) ** 2
        measured = self._measure(readings)
        if last is not None and measured is not None and self._anchor:
            self._innovations.append(measured[0] - self.arousal)
        if last is not None and measured is not None and self._measured is not None:
            # where the listener was heading under this waypoint, from the readings alone
            headed = self._measured + (measured[0] - self._measured) / s.follow_share
            self.response.add(last.waypoint.arousal, max(-1.5, min(1.5, headed)))
        self._measured = measured[0] if measured is not None else None
        if measured is not None:
            z, noise = measured
            gain = self.variance / (self.variance + noise)
            self.arousal += gain * (z - self.arousal)
            self.variance *= 1.0 - gain
        self.arousal = max(-1.0, min(1.0, self.arousal))
        self.valence = max(-1.0, min(1.0, self.valence))
        self._backoff = False
        if last is not None and target is not None and self._at_target:
            miss = abs(self.arousal - target.arousal)
            if self._closest is None or miss < self._closest[0]:
                self._closest = (miss, target.arousal, last.waypoint.arousal - target.arousal)
        if last is None or measured is None or target is None:
            if last is not None:
                self._last_sounds = sounds_named(last.prompt)
                self._test_sounds(self._last_sounds, None)
            return
        self._decide(last, target, before, modelled)
        self._test_sounds(sounds_named(last.prompt), target)

    def _test_sounds(self, playing: frozenset[str], target: Affect | None) -> None:
        """Probe one playing sound when the music is not working — a back-off that no new sound
        explains, or no progress toward the target over two segments — and the readings keep
        sitting above the model; at the probe's end, suspect it if the readings came down toward
        the model while it was left out.

        Only the segments just before and during a probe are compared: over a whole session, a
        sound that plays in one part of the path (pads while calming) would take the blame for
        everything else that part of the path does differently."""
        s = self.settings
        recent = self._innovations[-2:]
        self._beliefs.append(self.arousal)
        if self._probe is not None:
            self._probe_left -= 1
            if self._probe_left > 0:
                return
            during = self._innovations[-s.probe_segments:]
            if self._probe_before - sum(during) / len(during) > s.trigger_margin:
                self.suspects.add(self._probe)
                self.decisions.append(f"suspect {self._probe}: readings came down while it was left out")
            self._probe = None
            return
        if target is None or len(recent) < 2 or sum(recent) / 2 <= s.probe_after or len(playing) < 2:
            return
        # A probe is exploration: it must be over before the session's last share, which only
        # exploits what is known, so that no listener's ending is spent leaving a sound out.
        left = self._segments - len(self._beliefs)
        if self._segments and left - s.probe_segments < s.exploit_share * self._segments:
            return
        unexplained = self.decisions[-1] == "back off" and self._backoff_blamed == 0
        miss = abs(self.arousal - target.arousal)
        stalled = len(self._beliefs) >= 3 and miss > s.settled and (
            abs(self._beliefs[-3] - target.arousal) - miss < 2 * s.stall)
        if not (unexplained or stalled):
            return
        untested = sorted(playing - self.suspects - self._probed)
        if untested:
            self._probe, self._probe_left, self._probe_before = untested[0], s.probe_segments, sum(recent) / 2
            self._probed.add(untested[0])
            self.decisions.append(f"probe: leave out {untested[0]}")

    def _decide(self, last: SegmentRecord, target: Affect, before: float, modelled: float) -> None:
        s = self.settings
        sounds = sounds_named(last.prompt)
        wanted, moved = target.arousal - before, self.arousal - before
        calming = wanted < -0.05 and last.estimated.arousal < before - 0.05  # the session winds down
        loud = last.loudness_lufs > _QUIET_ENOUGH_LUFS
        if abs(modelled) > 0.02:
            self._moves.append((modelled, moved))
        if self._quieter_pending:  # the segment after a lowered ceiling: did quieter music help?
            self._quieter_pending = False
            if moved < -s.stall:
                self._quieter_confirmed += 1
        if abs(wanted) > 0.05 and moved * math.copysign(1.0, wanted) < -s.against:
            self._backoff = True
            self.decisions.append("back off")
            self._backoff_blamed = 0
            if self._last_sounds is not None:  # the first segment introduced nothing: no evidence against a sound
                self._backoff_blamed = len(sounds - self._last_sounds - self.suspects)
                self.suspects |= sounds - self._last_sounds
            if calming and loud:
                self._lower_ceiling(last.loudness_lufs - 4.0)
        elif calming and loud and moved > s.stall:  # calming music, yet arousal rises: too loud for them
            self.decisions.append("hold (quieter)")
            self._lower_ceiling(last.loudness_lufs - 3.0)
        else:
            self.decisions.append("follow")
            tempo = last.attempts[last.chosen_attempt].plan.get("tempo_bpm") if last.attempts else None
            if isinstance(tempo, (int, float)):
                self._followed_tempo.append(float(tempo))
        self._last_sounds = sounds

    def _lower_ceiling(self, lufs: float) -> None:
        self._quieter += 1
        self._quieter_pending = True
        self.ceiling = max(-40.0, min(self.ceiling if self.ceiling is not None else 0.0, lufs))

    def adjusted(self, preferences: Preferences) -> Preferences | None:
        """``preferences`` with what this session learned to avoid; None when nothing changes."""
        wanted = (self.suspects | ({self._probe} if self._probe else set())) - set(preferences.instruments)
        released = self._added - wanted  # a probed sound that made no difference comes back
        self._added = (self._added & wanted) | (wanted - set(preferences.avoid))
        avoid = tuple(dict.fromkeys([*(a for a in preferences.avoid if a not in released), *sorted(wanted)]))
        ceiling = preferences.loudness_ceiling_lufs if self.ceiling is None else min(
            preferences.loudness_ceiling_lufs, self.ceiling)
        if avoid == preferences.avoid and ceiling == preferences.loudness_ceiling_lufs:
            return None
        try:
            return replace(preferences, avoid=avoid, loudness_ceiling_lufs=ceiling)
        except Exception:  # noqa: BLE001 - an avoid that conflicts with the listener's choice is dropped
            return None

    # -- pacing ------------------------------------------------------------------------------------
    def next_waypoint(self, context: PaceContext) -> Waypoint:
        s = self.settings
        self._segments = context.segments
        reported, self._reported = self._reported, False
        if context.index == 0:
            return Waypoint(context.listener, 0.0, False, "meet the listener")
        x = Affect.clipped(self.valence, self.arousal)
        start, target = context.start, context.target
        rise = target.arousal - start.arousal  # the path's direction in arousal (none: the listener's)
        travel = math.copysign(1.0, rise) if abs(rise) > 0.05 else 0.0
        if self._backoff:  # arousal moves toward the listener; valence (which no sensor reads) stays
            # ... no further past the target than the target itself (one who overshot an energising
            # target is not met with livelier music), and a comfortable step at most: no sudden jump
            arousal, previous = x.arousal, context.previous or x
            if (arousal - target.arousal) * travel > s.max_beyond:
                arousal = target.arousal + travel * s.max_beyond
            step = context.comfortable_step
            near = min(previous.arousal + step, max(previous.arousal - step, arousal))
            held = Affect.clipped(previous.valence, near)
            return Waypoint(held, previous.distance(held), False, "back off: readings say the music worked against the "
                            "listener" + ("; a comfortable step toward where they are" if near != arousal else ""))
        arrive = max(1.0, s.arrive * (context.segments - 1))
        f = min(1.0, context.index / arrive)
        schedule = Affect.clipped(start.valence + f * (target.valence - start.valence),
                                  start.arousal + f * (target.arousal - start.arousal))
        self._at_target = f >= 1.0
        self._seed_offset(target.arousal)
        gap = math.hypot(s.valence_weight * (schedule.valence - x.valence), schedule.arousal - x.arousal)
        # after the listener said how they feel, the next segment meets them within a comfortable step
        lead = min(s.lead, context.comfortable_step) if reported else s.lead
        if gap <= lead:
            affect, reason = schedule, ("at the target" if f >= 1.0 else "on schedule: the listener follows")
        else:
            g = lead / gap
            affect = Affect.clipped(x.valence + g * (schedule.valence - x.valence),
                                    x.arousal + g * (schedule.arousal - x.arousal))
            reason = ("meet the listener: within a comfortable step of how they say they feel" if lead < s.lead
                      else "hold: within reach of where the readings place the listener")
        explore = s.explore if context.index < (1.0 - s.exploit_share) * context.segments else 0.0
        affect, reason = self._reach(affect, x, reason, explore, travel)
        step = (context.previous or x).distance(affect)
        return Waypoint(affect, step, step > context.comfortable_step + 1e-9, reason)

    def _seed_offset(self, target: float) -> None:
        """What earlier sessions found this listener needed for a target near this one: music at
        target + offset brought them to the target (a sample of the response map)."""
        if self._seeded_target == target:
            return
        self._seeded_target = target
        near = [(abs(t - target), o) for t, o in self._offsets if abs(t - target) <= self.settings.offset_reach]
        if near:
            offset = min(near)[1]
            self.response.seed([(max(-1.0, min(1.0, target + offset)), target)], self.settings.offset_weight)

    def _reach(self, wanted: Affect, x: Affect, reason: str, explore: float, travel: float) -> tuple[Affect, str]:
        """Move the waypoint's arousal to where the response map says the listener will head for
        ``wanted``: never more than ``max_offset`` off it, nor further than the lead from where the
        listener is, nor more than ``max_beyond`` past it, either seen from the listener or in the
        path's direction (``travel``: +1 when the session raises arousal, -1 when it lowers it, 0
        when it does not move it).  Seen from the listener alone, "past" flips once they overshoot,
        and music further past the target would be allowed."""
        s = self.settings
        n = round(s.max_offset / s.offset_step)
        toward = math.copysign(1.0, wanted.arousal - x.arousal)
        candidates = [c for c in (wanted.arousal + i * s.offset_step for i in range(-n, n + 1))
                      if -1.0 <= c <= 1.0 and abs(c - x.arousal) <= s.lead + 1e-9
                      and (c - wanted.arousal) * toward <= s.max_beyond + 1e-9
                      and (c - wanted.arousal) * travel <= s.max_beyond + 1e-9] or [wanted.arousal]
        chosen = self.response.choose(wanted.arousal, candidates, explore)
        if abs(chosen - wanted.arousal) < 1e-9:
            return wanted, reason
        where = "beyond" if (chosen - wanted.arousal) * (wanted.arousal - x.arousal) > 0 else "short of"
        return (Affect.clipped(wanted.valence, chosen),
                f"{reason}; arousal {chosen - wanted.arousal:+.2f} {where} it, where readings say this listener heads for it")

    # -- what the session learned ----------------------------------------------------------------
    def learned(self) -> ProfileUpdate:
        follow = None
        if len(self._moves) >= 2:
            num = sum(m * o for m, o in self._moves)
            den = sum(m * m for m, _ in self._moves)
            follow = max(0.0, min(2.0, num / den)) if den > 0 else None
        s, backoffs = self.settings, self.decisions.count("back off")
        lead = arrive = None
        if follow is not None and backoffs == 0:  # they came along: the next session may go sooner
            arrive = round(max(s.fastest_arrive, s.arrive * s.sooner), 3)
        elif backoffs:  # the music worked against them: lead less far and take longer next time
            lead = round(max(0.4, s.lead * 0.85), 3)
            arrive = round(min(1.0, s.arrive / s.sooner), 3)
        tempo = (min(self._followed_tempo), max(self._followed_tempo)) if self._followed_tempo else None
        # Arousal rising under calming music is not always loudness (a busy pulse, a trigger): the
        # profile keeps the ceiling only when it came down often enough and quieter music then helped.
        confirmed = self._quieter >= s.ceiling_evidence and self._quieter_confirmed >= 1
        ceiling = self.ceiling if confirmed else None
        return ProfileUpdate(triggers=sorted(self.suspects), calming_ceiling_lufs=ceiling,
                             followed_tempo_bpm=tempo, follow=follow, lead=lead, arrive=arrive,
                             response=self.response.binned(since=self._seeded),
                             offsets=[] if self._closest is None else [(self._closest[1], round(self._closest[2], 3))])

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "lead": self.settings.lead, "arrive": self.settings.arrive,
                "decisions": list(self.decisions)}


def apply_readings(session: LoopSession, pacer: ReadingPacer, readings: Sequence[Readings], *,
                   first: bool = False) -> bool:
    """Readings taken since the session's last segment (or before its first): the pacer updates
    its belief and decides, and what it learned to avoid goes into the session's preferences before
    the next segment is planned.  ``first``: the pacer's first readings, taken as its starting
    point whatever played before (a session that turns closed-loop midway).  What the listener said
    of how they feel meanwhile (:meth:`LoopSession.take_report`) is taken after the readings.  True
    when the preferences changed."""
    last = session.results[-1].record if session.results and not first else None
    said = session.take_report()
    pacer.observe(readings, last, session.target if last is not None else None)
    if said is not None:
        pacer.report(said)
    session.update_listener(Affect.clipped(pacer.valence, pacer.arousal), "closed loop")
    changed = pacer.adjusted(session.preferences)
    if changed is not None:
        session.update_preferences(changed, "closed loop")
    return changed is not None
