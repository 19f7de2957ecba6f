"""The embedded default planner: deterministic prompt writing and rewriting.

Drafting maps the segment's waypoint on the circumplex to tempo, mode, dynamics, density and
brightness (:mod:`promptloop.representation.plan`), picks instruments from the listener's preferences
(never an avoided one; an avoided default piano hands its part to a voice suited to the music's
energy), keeps the key across segments (moving to the relative major/minor when the mode changes,
so the notes stay shared), and writes a MusicGen-style text prompt.  Revising corrects
what a prompt can correct (a tempo that landed off by the measured error, a plan that strays from
its waypoint, constraint violations) and otherwise keeps the plan so the retry draws new candidates
(:meth:`RulePlanner.revise`).
"""

from __future__ import annotations

from typing import Literal

from promptloop.feedback.base import Evaluation, PlanContext, Planner
from promptloop.representation.plan import KEYS, MusicPlan, dynamics_for, tempo_for
from promptloop.representation.plan_checks import check_prompt, enforce_constraints
from promptloop.representation.vocabulary import (
    DYNAMICS_WORDS,
    TEXTURES,
    brightness_word,
    covered_words,
    density_word,
    mood_words,
)

__all__ = ["RulePlanner", "write_prompt"]

_DYNAMICS = ("pp", "p", "mp", "mf", "f")
#: A measured/asked tempo ratio this close to 2, 1/2, 3/2 or 2/3 is taken as an estimator error.
TEMPO_OCTAVE_TOLERANCE = 0.06
MAX_TEMPO_CORRECTION = 25.0
#: Who plays the default piano's part when the listener avoids piano, by energy (arousal >= 0 or not).
#: Dropped without a stand-in, calm music was left to pads, whose slow swells hide the beat (a 69 BPM
#: plan read 91 BPM), and energising music to pads' dark sustain (1020 Hz against the piano's 1407).
#: Rendered on the embedded default: bowed strings keep energising music as bright as the piano did,
#: a harp or guitar keeps calm music's pulse audible (docs/decisions.md).
_PIANO_STAND_INS = {True: ("strings", "guitar", "harp"), False: ("harp", "guitar", "strings")}


def _clip(value: float, low: float = 0.05, high: float = 0.95) -> float:
    return round(max(low, min(high, value)), 3)


def write_prompt(plan: MusicPlan, gentle: bool) -> str:
    """MusicGen-style prompt text for a plan (mood, genre, instruments, tempo, key, dynamics...)."""
    voices = list(plan.instruments)
    textures = list(plan.textures)
    parts = [f"{mood_words(plan.target_valence, plan.target_arousal)} {plan.genre or 'instrumental'} music"]
    if voices:
        parts.append("with " + " and ".join(voices))
    if textures:
        parts.append("over " + " and ".join(textures))
    parts.append(f"{plan.tempo_bpm:.0f} bpm")
    parts.append(f"{plan.key} {plan.mode}")
    parts.append(DYNAMICS_WORDS[plan.dynamics])
    parts.append(density_word(plan.density))
    parts.append(brightness_word(plan.brightness))
    if gentle:
        parts.append("gentle, smooth, soft attacks")
    return ", ".join(parts)


class RulePlanner(Planner):
    """Registered as ``rule``."""

    name = "rule"

    def _instruments(self, context: PlanContext) -> tuple[tuple[str, ...], tuple[str, ...]]:
        prefs, w = context.preferences, context.waypoint
        forbidden = prefs.forbidden
        liked = [i for i in prefs.instruments if i not in forbidden]
        voices = [i for i in liked if i not in TEXTURES]
        textures = [i for i in liked if i in TEXTURES]
        covered = covered_words(forbidden)
        if not voices:
            voices = ["piano", "bass", "drums"] if w.arousal > 0.45 else ["piano", "pads"]
            if w.arousal > 0.45 and w.valence < 0:
                voices.append("strings")
            if "piano" in covered:
                voices[0] = next((v for v in _PIANO_STAND_INS[w.arousal >= 0] if v not in covered and v not in voices),
                                 "piano")
        if w.arousal > 0.45 and "drums" not in voices:
            voices.append("drums")  # energizing music gets a kit wherever drums are allowed
        voices = [v for v in voices if v not in covered] or [
            v for v in ("pads", "piano", "strings", "guitar") if v not in forbidden
        ][:1]
        return tuple(voices), tuple(textures)

    def _key(self, mode: str, previous: MusicPlan | None) -> str:
        if previous is None:
            return "C" if mode == "major" else "A"
        if previous.mode == mode:
            return previous.key
        shift = 3 if mode == "major" else -3  # relative major / minor share every note
        return KEYS[(KEYS.index(previous.key) + shift) % 12]

    def draft(self, context: PlanContext) -> MusicPlan:
        w, prefs = context.waypoint, context.preferences
        mode: Literal["major", "minor"] = "major" if w.valence >= 0 else "minor"
        voices, textures = self._instruments(context)
        genre = next((g for g in prefs.genres if g not in prefs.forbidden), None)
        if genre is None:
            genre = "ambient" if w.arousal < 0.2 else "cinematic"
        brightness = 0.45 + 0.15 * w.valence + 0.3 * w.arousal  # high-frequency energy: mostly an arousal cue
        if prefs.gentle:
            brightness = min(brightness, 0.35)
        plan = MusicPlan(
            prompt="draft",
            tempo_bpm=tempo_for(w.arousal),
            key=self._key(mode, context.previous_plan),
            mode=mode,
            instruments=voices,
            textures=textures,
            genre=genre,
            dynamics=dynamics_for(w.arousal),  # type: ignore[arg-type]
            density=_clip(0.5 + 0.4 * w.arousal),
            brightness=_clip(brightness),
            target_valence=w.valence,
            target_arousal=w.arousal,
            rationale=f"iso step {context.segment_index + 1}/{context.segments} toward the target",
        )
        return self._finish(plan, context)

    def _finish(self, plan: MusicPlan, context: PlanContext) -> MusicPlan:
        # The shared check repairs the fields first (dynamics under the ceiling, gentle brightness),
        # so the words written from them already keep every constraint.
        plan, repairs = enforce_constraints(plan.model_copy(update={"prompt": "draft"}), context.preferences)
        prompt = write_prompt(plan, context.preferences.gentle)
        check_prompt(prompt, context.preferences.forbidden)
        held = [r.note for r in repairs if r.field == "tempo_bpm"]  # the listener's range, not the path
        rationale = f"{plan.rationale} [{'; '.join(held)}]"[:500] if held else plan.rationale
        return plan.model_copy(update={"prompt": prompt, "rationale": rationale})

    def revise(self, plan: MusicPlan, evaluation: Evaluation, context: PlanContext) -> MusicPlan:
        """Rewrite what a new prompt can fix; keep the plan (new seeds only) where it cannot.

        A rewrite helps when the miss is systematic: a generator that lands tempo words off by a
        few BPM lands the corrected number off by about the same amount, so the tempo is moved by
        the whole measured error (unless the estimate looks like an octave or 3:2 error of the
        estimator).  A mood that sounds wrong although the plan asks for the waypoint's mode and
        level is a random miss (a flipped mode, an instrument the generator added or dropped);
        changing the plan then only moves it away from the waypoint, so the plan stays and the retry
        draws new candidates.  A timbre that measures darker or brighter than the waypoint's (the
        spectral centroid off by more than the evaluator's tolerance) moves brightness by 0.2, which
        the embedded generators render (register, filters, a presence shelf) and MusicGen reads as
        timbre words.  Constraint violations always change the plan.
        """
        tempo, density, brightness = plan.tempo_bpm, plan.density, plan.brightness
        dyn = _DYNAMICS.index(plan.dynamics)
        mode, instruments = plan.mode, list(plan.instruments)
        wanted_mode: Literal["major", "minor"] = "major" if context.waypoint.valence >= 0 else "minor"
        wanted_dyn = _DYNAMICS.index(dynamics_for(context.waypoint.arousal))
        notes = []
        for fb in evaluation.feedback:
            if fb.attribute == "tempo" and isinstance(fb.measured, float) and plan.tempo_bpm:
                ratio = fb.measured / plan.tempo_bpm
                if any(abs(ratio - r) < TEMPO_OCTAVE_TOLERANCE * r for r in (2.0, 0.5, 1.5, 2 / 3)):
                    notes.append("tempo estimate looks like an octave error: kept")
                    continue
                error = max(-MAX_TEMPO_CORRECTION, min(MAX_TEMPO_CORRECTION, fb.measured - tempo_for(context.waypoint.arousal)))
                tempo = plan.tempo_bpm - error
                notes.append(f"tempo landed {error:+.0f} BPM off: asked {tempo:.0f}")
            elif fb.attribute == "arousal":
                sign = -1 if fb.direction == "lower" else 1
                if (dyn - wanted_dyn) * sign < 0:  # the plan itself strays from the waypoint's level
                    dyn = max(0, min(len(_DYNAMICS) - 1, dyn + sign))
                    notes.append(f"arousal {fb.direction}")
                else:
                    notes.append(f"arousal {fb.direction}: plan already at the waypoint, new candidates")
            elif fb.attribute == "valence":
                if mode != wanted_mode:
                    mode = wanted_mode
                    notes.append(f"valence {fb.direction}: mode back to {wanted_mode}")
                else:
                    notes.append(f"valence {fb.direction}: mode already {mode}, new candidates")
            elif fb.attribute == "transients":
                instruments = [i for i in instruments if i not in ("drums", "bells", "guitar")] or ["pads"]
                density -= 0.2
                notes.append("fewer transients")
            elif fb.attribute == "brightness":  # a measured centroid off the waypoint's, or harsh highs
                brighter = fb.direction == "higher"
                brightness += 0.2 if brighter else -0.2
                notes.append("brighter" if brighter else "darker")
        if context.preferences.gentle:
            brightness = min(brightness, 0.35)
        key = plan.key if mode == plan.mode else self._key(mode, plan)
        revised = plan.model_copy(update={
            "tempo_bpm": max(40.0, min(180.0, round(tempo))),
            "density": _clip(density),
            "brightness": _clip(brightness),
            "dynamics": _DYNAMICS[dyn],
            "mode": mode,
            "key": key,
            "instruments": tuple(instruments),
            "rationale": ("revised: " + ", ".join(notes)) if notes else "revised: new seed only",
        })
        return self._finish(revised, context)
