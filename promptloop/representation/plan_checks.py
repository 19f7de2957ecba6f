"""The one plan-safety check: every plan passes it before it is generated, whichever planner wrote it;
and the one audio-level check of the same constraints on what was rendered (:func:`audio_violations`).

>>> prefs = Preferences(avoid=("drums",), gentle=True)
>>> plan, notes = enforce_constraints(MusicPlan(prompt="calm piano", instruments=("piano", "drums"),
...                                             target_valence=0.5, target_arousal=-0.5), prefs)
>>> plan.instruments, notes
(('piano',), ['dropped avoided instruments'])

What the prompt text itself asks for cannot be repaired safely (a generator reads the words), so a
prompt that names an avoided sound (aliases count), asks for harsh sound in gentle mode or for loud
music the ceiling forbids raises :class:`~promptloop.errors.ConstraintViolation`; the loop then
falls back to the rule planner and records why.  The plan's fields are repaired in place: avoided
instruments, textures and genre dropped, dynamics lowered to what the ceiling allows, brightness
capped in gentle mode, the tempo kept inside the listener's comfortable range (a tempo the prompt
writes as "N bpm" is rewritten with it: the number is a plain fact, not the words' intent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from promptloop.acquisition.affect import Affect
from promptloop.errors import ConstraintViolation
from promptloop.representation.plan import DYNAMICS_LUFS, MusicPlan, tempo_for
from promptloop.representation.preferences import Preferences
from promptloop.representation.vocabulary import canonical, covered_words

__all__ = [
    "AUDIO_LIMITS",
    "DYNAMICS_ORDER",
    "AudioViolation",
    "BPM_WORDS",
    "MeasuredAudio",
    "Repair",
    "audio_violations",
    "GENTLE_BRIGHTNESS_CAP",
    "HEADROOM_LU",
    "check_prompt",
    "enforce_constraints",
    "loudest_dynamics",
    "tempo_range_note",
]

HEADROOM_LU = 1.0  # segments aim this far under the listener's loudness ceiling
GENTLE_BRIGHTNESS_CAP = 0.35
DYNAMICS_ORDER = ("pp", "p", "mp", "mf", "f")
_HARSH_WORDS = re.compile(r"\b(harsh|piercing|shrill|screech\w*|aggressive|distorted|distortion|crash\w*|sharp)\b", re.I)
BPM_WORDS = re.compile(r"\b(\d{2,3}(?:\.\d+)?)\s*bpm\b", re.I)  # a tempo written into a prompt
_LOUD_WORDS = re.compile(r"\b(loud|louder|fortissimo|blasting|booming|thunderous|pounding|deafening)\b", re.I)


@dataclass(frozen=True)
class Repair:
    """One change :func:`enforce_constraints` made to a plan: the field it changed and a note for
    provenance."""

    field: str
    note: str


def _mentions(text: str, term: str) -> bool:
    return re.search(rf"(?<![a-z]){re.escape(term)}(?![a-z])", text) is not None


def check_prompt(prompt: str, forbidden: frozenset[str]) -> None:
    """Raise :class:`ConstraintViolation` when ``prompt`` names something the listener avoids.

    Aliases and families count: a listener who avoids ``strings`` also avoids ``violin``.
    """
    text = prompt.lower()
    names = covered_words(forbidden)
    found = sorted(term for term in names if _mentions(text, term))
    if found:
        raise ConstraintViolation(f"prompt names avoided sound(s): {', '.join(found)}")


def loudest_dynamics(ceiling_lufs: float) -> str:
    """The loudest marking whose loudness stays under the ceiling (with the loop's headroom)."""
    allowed = [d for d in DYNAMICS_ORDER if DYNAMICS_LUFS[d] <= ceiling_lufs - HEADROOM_LU]
    return allowed[-1] if allowed else "pp"


def enforce_constraints(plan: MusicPlan, preferences: Preferences) -> tuple[MusicPlan, list[Repair]]:
    """Return ``plan`` made to keep every constraint of ``preferences``, with the repairs made.

    Raises :class:`ConstraintViolation` when the prompt text breaks a constraint.
    """
    forbidden = preferences.forbidden
    check_prompt(plan.prompt, forbidden)
    if preferences.gentle and _HARSH_WORDS.search(plan.prompt):
        raise ConstraintViolation("gentle mode: prompt asks for harsh or sharp sound")
    loudest = loudest_dynamics(preferences.loudness_ceiling_lufs)
    if loudest != "f" and _LOUD_WORDS.search(plan.prompt):
        raise ConstraintViolation(f"prompt asks for loud music; the ceiling allows {loudest} at most")
    notes: list[Repair] = []
    fields: dict[str, object] = {}
    covered = covered_words(forbidden)
    for name in ("instruments", "textures"):
        terms: tuple[str, ...] = getattr(plan, name)
        kept = tuple(t for t in terms if canonical(t) not in covered)
        if kept != terms:
            fields[name] = kept
            notes.append(Repair(name, f"dropped avoided {name}"))
    if plan.genre is not None and canonical(plan.genre) in forbidden:
        fields["genre"] = None
        notes.append(Repair("genre", "dropped avoided genre"))
    cap = "mp" if preferences.gentle and DYNAMICS_ORDER.index(loudest) > DYNAMICS_ORDER.index("mp") else loudest
    if DYNAMICS_ORDER.index(plan.dynamics) > DYNAMICS_ORDER.index(cap):
        fields["dynamics"] = cap
        notes.append(Repair("dynamics", f"dynamics lowered to {cap}"))
    if preferences.gentle and plan.brightness > GENTLE_BRIGHTNESS_CAP:
        fields["brightness"] = GENTLE_BRIGHTNESS_CAP
        notes.append(Repair("brightness", "brightness capped (gentle)"))
    if preferences.tempo_range_bpm is not None:
        low, high = preferences.tempo_range_bpm
        tempo = min(high, max(low, plan.tempo_bpm))
        if tempo != plan.tempo_bpm:
            fields["tempo_bpm"] = tempo
            notes.append(Repair("tempo_bpm", f"tempo {plan.tempo_bpm:.0f} -> {tempo:.0f} BPM (comfortable range {low:.0f}-{high:.0f})"))
        if any(not low <= float(m.group(1)) <= high for m in BPM_WORDS.finditer(plan.prompt)):
            fields["prompt"] = BPM_WORDS.sub(f"{tempo:.0f} bpm", plan.prompt)
    if not fields:
        return plan, notes
    return plan.model_copy(update=fields), notes


def tempo_range_note(target: Affect, preferences: Preferences) -> str | None:
    """One sentence for the listener when their comfortable tempo range keeps the music from the
    target's tempo (the session still heads for the target; the other cues go all the way)."""
    if preferences.tempo_range_bpm is None:
        return None
    low, high = preferences.tempo_range_bpm
    wanted = tempo_for(target.arousal)
    if low <= wanted <= high:
        return None
    held, side = (low, "below") if wanted < low else (high, "above")
    return (f"The target's tempo ({wanted:.0f} BPM) is {side} your comfortable tempo range "
            f"({low:.0f}-{high:.0f} BPM): the music stays at {held:.0f} BPM there, and loudness, "
            f"density and brightness carry the rest of the way.")


# -- the same constraints, measured on the audio -----------------------------------------------
#: Measurement tolerances of the audio-level checks (one table for the loop's evaluator and the
#: evaluation harness): loudness meter tolerance (LU), percussive hits and sharp attacks allowed
#: where percussion or sudden changes are avoided, share of energy above 4 kHz.
AUDIO_LIMITS = {
    "loudness_lu": 0.5,
    "percussive_hits": 1,
    "sudden_transients": 2,
    "gentle_high_ratio": 0.02,
    "high_pitched_ratio": 0.05,
}
_PERCUSSION = frozenset({"drums", "percussion"})


class MeasuredAudio(Protocol):
    """What the audio checks read (:class:`promptloop.audio.analysis.Descriptors` has it all)."""

    @property
    def loudness_lufs(self) -> float: ...
    @property
    def sharp_transients(self) -> int: ...
    @property
    def percussive_hits(self) -> int: ...
    @property
    def high_freq_ratio(self) -> float: ...


@dataclass(frozen=True)
class AudioViolation:
    """One constraint the rendered audio breaks."""

    kind: str  # loudness | gentle-transients | avoided-percussion | avoided-sudden | gentle-highs | avoided-high
    attribute: str  # what a rewrite should lower: loudness | transients | brightness
    message: str


def audio_violations(measured: MeasuredAudio, preferences: Preferences) -> list[AudioViolation]:
    """Every constraint of ``preferences`` that the measured audio breaks (the audio is what reaches
    ears, whatever the prompt said).

    Percussion is judged by drum-like hits, not by sharp attacks: a plucked guitar is not a drum
    (issue 13).  Gentle mode forbids any sharp attack, pitched or not.
    """
    limits, forbidden, found = AUDIO_LIMITS, preferences.forbidden, []
    ceiling = preferences.loudness_ceiling_lufs
    if measured.loudness_lufs > ceiling + limits["loudness_lu"]:
        found.append(AudioViolation("loudness", "loudness",
                                    f"loudness {measured.loudness_lufs:.1f} LUFS over the ceiling {ceiling:.1f}"))
    if preferences.gentle and measured.sharp_transients > 0:
        found.append(AudioViolation("gentle-transients", "transients",
                                    f"{measured.sharp_transients} sharp transient(s) in gentle mode"))
    elif "sudden changes" in forbidden and measured.sharp_transients > limits["sudden_transients"]:
        found.append(AudioViolation("avoided-sudden", "transients",
                                    f"{measured.sharp_transients} sharp transients while sudden changes are avoided"))
    if forbidden & _PERCUSSION and measured.percussive_hits > limits["percussive_hits"]:
        found.append(AudioViolation("avoided-percussion", "transients",
                                    f"{measured.percussive_hits} percussive hits while percussion is avoided"))
    if preferences.gentle and measured.high_freq_ratio > limits["gentle_high_ratio"]:
        found.append(AudioViolation("gentle-highs", "brightness",
                                    f"harsh highs ({measured.high_freq_ratio:.1%} energy above 4 kHz) in gentle mode"))
    elif "high-pitched" in forbidden and measured.high_freq_ratio > limits["high_pitched_ratio"]:
        found.append(AudioViolation("avoided-high", "brightness",
                                    f"high-pitched content ({measured.high_freq_ratio:.1%} above 4 kHz) while avoided"))
    return found
