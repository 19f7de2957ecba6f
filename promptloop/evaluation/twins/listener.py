"""A simulated listener: a latent affect that follows the music it hears, and a wearable on it.

The latent state (valence, arousal) moves second by second toward the music's *pull*, computed
from the segment's independently measured cues (:func:`promptloop.evaluation.metrics.measure_cues`)
and the sounds actually rendered, through this listener's :class:`TwinTraits`::

    pull_a = 0.5·z(tempo) + 0.3·s_loud·z(loudness) + 0.2·z(centroid) + annoyance_a + trigger_a
    pull_v = 0.6·mode + 0.15·z(tempo) + 0.15·z(centroid) − dislike(tempo) − annoyance_v − trigger_v
    dx/dt  = accept(|pull − x|) · habituated · (gain·pull + (1 − gain)·home − x) / τ   (+ noise, after a latency)

``mode`` is the measured church mode's valence (:data:`~promptloop.evaluation.metrics.MODAL_VALENCE`:
Ionian +1, Mixolydian +0.75, Dorian −0.75, Aeolian −1), or the measured major/minor mode's sign
where no church mode was measured.  ``accept`` falls steeply once the music is further than the listener's acceptance radius from
where they are (the premise of the iso principle), ``habituated`` shrinks the effect of music that
repeats itself.  The wearable reports heart rate, RMSSD and skin conductance with noise, drift and
dropouts (:meth:`SimulatedListener.readings`); asked, the listener rates how they feel on the
Self-Assessment Manikin's nine steps (:meth:`SimulatedListener.self_report`).  Sources:
docs/evaluation.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from promptloop.acquisition.affect import Affect
from promptloop.acquisition.physio import Baseline, Readings
from promptloop.evaluation.metrics import MODAL_VALENCE, Cues
from promptloop.evaluation.twins.traits import TwinTraits

__all__ = ["ZONE_RADIUS", "MusicHeard", "SimulatedListener", "music_pull"]

#: The twin is "in the target zone" within this circumplex distance of the target.
ZONE_RADIUS = 0.35
STATE_NOISE_PER_S = 0.012
TRIGGER_AROUSAL, TRIGGER_VALENCE = 0.5, 0.5
DROPOUT = {"device": 0.04, "heart_rate": 0.05, "hrv_rmssd": 0.12, "skin_conductance": 0.08}
#: A self-report is a 9-point SAM rating of each axis (one step: 0.25 on [-1, 1]) that scatters
#: about one step around the felt state.
SAM_STEP = 0.25
REPORT_SCATTER = 0.25
#: Each signal's slope per unit of arousal for the typical listener the pacer's model of the readings
#: assumes (``closed_loop._SENSITIVITY`` through ``estimate_affect``): the population's medians
#: (``TwinTraits``), RMSSD's 0.45 as the pacer rounds it.
TYPICAL_HR_PER_AROUSAL, TYPICAL_RMSSD_LOG_PER_AROUSAL, TYPICAL_SCL_LOG_PER_AROUSAL = 12.0, 0.44, 0.5
#: Under the graded-valence bound, music asked for this valence or more carries the mode cue in full.
GRADED_FULL_VALENCE = 0.5
#: Phasic skin-conductance responses to a trigger add this share to the tonic level.
TRIGGER_SCL_FACTOR = 1.12


def _z(value: float, centre: float, half_range: float) -> float:
    return float(np.clip((value - centre) / half_range, -1.0, 1.0))


@dataclass(frozen=True)
class MusicHeard:
    """What one segment put in the listener's ears: measured cues and the sounds rendered."""

    cues: Cues
    sounds: frozenset[str]
    seconds: float
    #: The valence the segment was asked for, heard as a graded mode cue instead of the measured
    #: mode's sign: an actuation bound (``TwinStudy.actuation``), never the study.
    asked_valence: float | None = None


def music_pull(heard: MusicHeard, traits: TwinTraits) -> Affect:
    """Where this music draws this listener on the circumplex."""
    c = heard.cues
    tempo, bright = _z(c.tempo_bpm, 90.0, 30.0), _z(c.centroid_hz, 900.0, 600.0)
    loud = _z(c.loudness_lufs, -23.0, 8.0) * traits.loudness_sensitivity
    excess = max(0.0, c.loudness_lufs - traits.comfortable_lufs)
    off_tempo = max(0.0, abs(c.tempo_bpm - traits.preferred_tempo_bpm) - traits.tempo_tolerance_bpm)
    triggered = bool(heard.sounds & set(traits.triggers))
    arousal = 0.5 * tempo + 0.3 * loud + 0.2 * bright + min(0.5, 0.1 * excess)
    if heard.asked_valence is None:
        mode = MODAL_VALENCE.get(c.modal_colour, 1.0 if c.mode == "major" else -1.0)
    else:
        mode = max(-1.0, min(1.0, heard.asked_valence / GRADED_FULL_VALENCE))
    valence = (0.6 * mode + 0.15 * tempo + 0.15 * bright
               - min(0.4, 0.4 * off_tempo / 30.0) - min(0.4, 0.08 * excess))
    if triggered:
        arousal, valence = arousal + TRIGGER_AROUSAL, valence - TRIGGER_VALENCE
    return Affect.clipped(valence, arousal)


@dataclass
class SimulatedListener:
    """One twin in one session: :meth:`listen` advances it, :meth:`readings` measures it."""

    traits: TwinTraits
    state: Affect
    rng: np.random.Generator
    elapsed_s: float = 0.0
    timeline: list[tuple[float, float, float]] = field(default_factory=list)  # (t, valence, arousal)
    home: Affect | None = None  # where this listener's mood settles when music does not move it
    _pull: Affect | None = None
    _repeats: int = 0
    _hr_drift: float = 0.0
    _last_triggered: bool = False
    _asked: np.random.Generator | None = None  # the self-reports' own draws, apart from the wearable's

    @classmethod
    def create(cls, traits: TwinTraits, start: Affect, session_seed: int) -> SimulatedListener:
        rng = np.random.default_rng(np.random.SeedSequence([traits.seed, session_seed, 0x5A5A]))
        twin = cls(traits=traits, state=start, rng=rng, home=Affect.clipped(traits.home_valence, traits.home_arousal),
                   _asked=np.random.default_rng(np.random.SeedSequence([traits.seed, session_seed, 0x5A3])))
        twin.timeline.append((0.0, start.valence, start.arousal))
        return twin

    def listen(self, heard: MusicHeard) -> Affect:
        """Hear one segment, one simulated second at a time; returns the new latent state."""
        t = self.traits
        pull = music_pull(heard, t)
        if self._pull is not None and pull.distance(self._pull) < 0.1:
            self._repeats += 1
        else:
            self._repeats = 0
        habituated = 1.0 / (1.0 + t.habituation * self._repeats)
        previous = self._pull or self.state
        step_a, step_v = 1.0 - math.exp(-1.0 / t.tau_arousal_s), 1.0 - math.exp(-1.0 / t.tau_valence_s)
        v, a = self.state.valence, self.state.arousal
        home = self.home or self.state
        for second in range(round(heard.seconds)):
            acting = previous if second < t.latency_s else pull
            gap = math.hypot(0.5 * (acting.valence - v), acting.arousal - a)
            accept = 1.0 / (1.0 + (gap / t.acceptance_radius) ** 4)
            k = accept * habituated
            settle_a = t.gain * acting.arousal + (1.0 - t.gain) * home.arousal
            settle_v = t.gain * acting.valence + (1.0 - t.gain) * home.valence
            noise = self.rng.normal(0.0, STATE_NOISE_PER_S, size=2)
            a = float(np.clip(a + k * step_a * (settle_a - a) + noise[0], -1.0, 1.0))
            v = float(np.clip(v + k * step_v * (settle_v - v) + noise[1], -1.0, 1.0))
            self.elapsed_s += 1.0
            self.timeline.append((self.elapsed_s, v, a))
        self.state = Affect(v, a)
        self._pull = pull
        self._last_triggered = bool(heard.sounds & set(t.triggers))
        self._hr_drift += float(self.rng.normal(0.0, 0.4))
        return self.state

    # -- the wearable ------------------------------------------------------------------------------
    def baseline(self) -> Baseline:
        """Resting values as the wearable app calibrated them (with calibration error)."""
        t, n = self.traits, self.rng.normal(0.0, 1.0, size=3)
        return Baseline(heart_rate=round(t.resting_hr + 2.0 * n[0], 2),
                        hrv_rmssd=round(t.resting_rmssd_ms * math.exp(0.1 * n[1]), 2),
                        skin_conductance=round(t.resting_scl_us * math.exp(0.1 * n[2]), 3))

    def heart_rate(self) -> float:
        """The true (noise-free) heart rate."""
        return self.traits.resting_hr + self.traits.hr_per_arousal * self.state.arousal

    def readings(self) -> Readings:
        """One wearable reading: noisy, drifting, and any field (or all) may have dropped out."""
        t, a = self.traits, self.state.arousal
        n = self.rng.normal(0.0, 1.0, size=3)
        drop = self.rng.random(size=4)
        if drop[0] < DROPOUT["device"]:
            return Readings()
        scl = t.resting_scl_us * math.exp(t.scl_log_per_arousal * a) * (1.0 + t.scl_drift_per_min * self.elapsed_s / 60.0)
        if self._last_triggered and t.scl_log_per_arousal > 0.1:
            scl *= TRIGGER_SCL_FACTOR
        values = {
            "heart_rate": float(np.clip(self.heart_rate() + self._hr_drift + 2.5 * n[0], 30.0, 200.0)),
            "hrv_rmssd": float(np.clip(t.resting_rmssd_ms * math.exp(-t.rmssd_log_per_arousal * a + 0.15 * n[1]), 2.0, 250.0)),
            "skin_conductance": float(np.clip(scl * math.exp(0.04 * n[2]), 0.05, 90.0)),
        }
        kept = {k: round(v, 3) for (k, v), d in zip(values.items(), drop[1:], strict=True) if d >= DROPOUT[k]}
        return Readings(**kept)

    def exact_readings(self) -> Readings:
        """A wearable that cannot err: every signal follows the felt arousal at the population's
        typical slope (the listener the pacer assumes), with no noise, drift or dropout; a trigger's
        phasic skin-conductance response is there as on the real wearable.  Not a device anyone has:
        it measures how much of the closed loop's result the sensing costs (``eval/tune_pacer.py --sensing``)."""
        # the draws the real wearable takes: the listener's own noise then follows the same draws
        # under either, and the bound varies the sensing alone
        self.rng.normal(0.0, 1.0, size=3)
        self.rng.random(size=4)
        t, a = self.traits, self.state.arousal
        phasic = TRIGGER_SCL_FACTOR if self._last_triggered else 1.0
        return Readings(heart_rate=t.resting_hr + TYPICAL_HR_PER_AROUSAL * a,
                        hrv_rmssd=t.resting_rmssd_ms * math.exp(-TYPICAL_RMSSD_LOG_PER_AROUSAL * a),
                        skin_conductance=t.resting_scl_us * math.exp(TYPICAL_SCL_LOG_PER_AROUSAL * a) * phasic)

    # -- asked how they feel ----------------------------------------------------------------------
    def self_report(self) -> Affect:
        """How the listener says they feel: each axis rated on the SAM's nine steps, scattered about
        one step around the felt state.  Its draws never shift the wearable's."""
        if self._asked is None:  # sharing the wearable's draws would change its readings
            raise RuntimeError("a twin made without SimulatedListener.create has no self-report draws")
        scatter = self._asked.normal(0.0, REPORT_SCATTER, size=2)
        v, a = (float(np.clip(round((x + e) / SAM_STEP) * SAM_STEP, -1.0, 1.0))
                for x, e in zip((self.state.valence, self.state.arousal), scatter, strict=True))
        return Affect(v, a)

    # -- outcome measures ------------------------------------------------------------------------
    def distance(self, target: Affect) -> float:
        return self.state.distance(target)

    def zone_seconds(self, target: Affect, since: float = 0.0) -> float:
        """Seconds spent within :data:`ZONE_RADIUS` of ``target``."""
        return float(sum(1.0 for t, v, a in self.timeline[1:]
                         if t > since and math.hypot(v - target.valence, a - target.arousal) <= ZONE_RADIUS))

    def time_to_zone(self, target: Affect) -> float | None:
        """Seconds until the twin first entered the target zone (None: never)."""
        return next((t for t, v, a in self.timeline if math.hypot(v - target.valence, a - target.arousal) <= ZONE_RADIUS), None)


def sounds_in(prompts: Iterable[str]) -> frozenset[str]:
    """The vocabulary sounds the prompts name (what a prompt-following generator renders)."""
    from promptloop.session.closed_loop import sounds_named

    return frozenset().union(*(sounds_named(p) for p in prompts))
