"""Affect on the valence/arousal circumplex, parsed from words or numbers.

>>> parse_affect("anxious")
Affect(valence=-0.6, arousal=0.7)
>>> parse_affect("v=-0.5,a=0.7")
Affect(valence=-0.5, arousal=0.7)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from promptloop.errors import InputError

__all__ = ["AFFECT_WORDS", "Affect", "affect_text", "describe_affect", "nearest_word", "parse_affect"]


@dataclass(frozen=True)
class Affect:
    """A point on Russell's circumplex: both axes in [-1, 1]."""

    valence: float
    arousal: float

    def __post_init__(self) -> None:
        for name in ("valence", "arousal"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InputError(f"{name} must be a finite number, got {value!r}")
            if not -1.0 <= value <= 1.0:
                raise InputError(f"{name} must be within [-1, 1], got {value}")

    def distance(self, other: Affect) -> float:
        """Euclidean distance; the largest possible is 2*sqrt(2)."""
        return math.hypot(self.valence - other.valence, self.arousal - other.arousal)

    def to_dict(self) -> dict[str, float]:
        return {"valence": round(self.valence, 4), "arousal": round(self.arousal, 4)}

    @classmethod
    def clipped(cls, valence: float, arousal: float) -> Affect:
        """Build an affect, clipping both axes into [-1, 1] (for estimates, not user input)."""
        return cls(max(-1.0, min(1.0, float(valence))), max(-1.0, min(1.0, float(arousal))))


# Placement follows Russell (1980) and the circumplex positions used by Posner, Russell & Peterson
# (2005): angle gives the quality, distance from the centre the intensity.  The table is the
# contract documented in docs/affect.md; tests pin its quadrants.
AFFECT_WORDS: dict[str, Affect] = {
    "anxious": Affect(-0.6, 0.7),
    "stressed": Affect(-0.5, 0.6),
    "angry": Affect(-0.7, 0.8),
    "tense": Affect(-0.4, 0.5),
    "sad": Affect(-0.7, -0.4),
    "depressed": Affect(-0.8, -0.6),
    "tired": Affect(-0.2, -0.7),
    "bored": Affect(-0.4, -0.5),
    "neutral": Affect(0.0, 0.0),
    "calm": Affect(0.4, -0.6),
    "relaxed": Affect(0.6, -0.5),
    "content": Affect(0.7, -0.2),
    "serene": Affect(0.5, -0.7),
    "happy": Affect(0.8, 0.4),
    "joyful": Affect(0.85, 0.6),
    "focused": Affect(0.3, 0.3),
    "energized": Affect(0.6, 0.8),
    "excited": Affect(0.7, 0.85),
    "sleepy": Affect(0.1, -0.9),
}

_NUMERIC = re.compile(
    r"^\s*v(?:alence)?\s*=\s*(?P<v>[-+]?[\d.]+(?:e[-+]?\d+)?)\s*[,;]\s*"
    r"a(?:rousal)?\s*=\s*(?P<a>[-+]?[\d.]+(?:e[-+]?\d+)?)\s*$",
    re.IGNORECASE,
)


def parse_affect(text: str) -> Affect:
    """Parse ``"calm"`` or ``"v=0.4,a=-0.6"`` into an :class:`Affect`; raise InputError otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("affect must be a word such as 'calm' or numbers such as 'v=0.4,a=-0.6'")
    match = _NUMERIC.match(text)
    if match:
        try:
            valence, arousal = float(match["v"]), float(match["a"])
        except ValueError as exc:
            raise InputError(f"cannot read affect numbers from {text!r}") from exc
        return Affect(valence, arousal)
    word = text.strip().lower()
    if word in AFFECT_WORDS:
        return AFFECT_WORDS[word]
    known = ", ".join(sorted(AFFECT_WORDS))
    raise InputError(f"unknown affect {text!r}; use one of: {known}, or numbers like 'v=0.4,a=-0.6'")


def affect_text(value: object) -> str:
    """Validate a spec file's affect field: a word, ``"v=..,a=.."`` or ``{valence, arousal}``; return
    it as text.  Raises ValueError (pydantic validators report it with the field's location)."""
    if isinstance(value, dict):
        value = f"v={value.get('valence')},a={value.get('arousal')}"
    if not isinstance(value, str):
        raise ValueError("must be a word such as 'calm' or numbers such as 'v=0.4,a=-0.6'")
    try:
        parse_affect(value)
    except InputError as exc:
        raise ValueError(str(exc)) from None
    return value



def nearest_word(affect: Affect) -> str:
    """The table word closest to ``affect``."""
    return min(AFFECT_WORDS, key=lambda word: AFFECT_WORDS[word].distance(affect))


def describe_affect(affect: Affect) -> str:
    """Short words for an affect, e.g. ``"calm, relaxed"`` (the two nearest table entries)."""
    ranked = sorted(AFFECT_WORDS, key=lambda word: AFFECT_WORDS[word].distance(affect))
    return ", ".join(ranked[:2])
