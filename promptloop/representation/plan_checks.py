"""The one plan-safety check: every plan passes it before it is generated, whichever planner wrote it.

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
capped in gentle mode.
"""

from __future__ import annotations

import re

from promptloop.errors import ConstraintViolation
from promptloop.representation.plan import DYNAMICS_LUFS, MusicPlan
from promptloop.representation.preferences import Preferences
from promptloop.representation.vocabulary import canonical, covered_words

__all__ = [
    "DYNAMICS_ORDER",
    "GENTLE_BRIGHTNESS_CAP",
    "HEADROOM_LU",
    "check_prompt",
    "enforce_constraints",
    "loudest_dynamics",
]

HEADROOM_LU = 1.0  # segments aim this far under the listener's loudness ceiling
GENTLE_BRIGHTNESS_CAP = 0.35
DYNAMICS_ORDER = ("pp", "p", "mp", "mf", "f")
_HARSH_WORDS = re.compile(r"\b(harsh|piercing|shrill|screech\w*|aggressive|distorted|distortion|crash\w*|sharp)\b", re.I)
_LOUD_WORDS = re.compile(r"\b(loud|louder|fortissimo|blasting|booming|thunderous|pounding|deafening)\b", re.I)


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


def enforce_constraints(plan: MusicPlan, preferences: Preferences) -> tuple[MusicPlan, list[str]]:
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
    notes: list[str] = []
    fields: dict[str, object] = {}
    covered = covered_words(forbidden)
    for name in ("instruments", "textures"):
        terms: tuple[str, ...] = getattr(plan, name)
        kept = tuple(t for t in terms if canonical(t) not in covered)
        if kept != terms:
            fields[name] = kept
            notes.append(f"dropped avoided {name}")
    if plan.genre is not None and canonical(plan.genre) in forbidden:
        fields["genre"] = None
        notes.append("dropped avoided genre")
    cap = "mp" if preferences.gentle and DYNAMICS_ORDER.index(loudest) > DYNAMICS_ORDER.index("mp") else loudest
    if DYNAMICS_ORDER.index(plan.dynamics) > DYNAMICS_ORDER.index(cap):
        fields["dynamics"] = cap
        notes.append(f"dynamics lowered to {cap}")
    if preferences.gentle and plan.brightness > GENTLE_BRIGHTNESS_CAP:
        fields["brightness"] = GENTLE_BRIGHTNESS_CAP
        notes.append("brightness capped (gentle)")
    if not fields:
        return plan, notes
    return plan.model_copy(update=fields), notes
