"""The musical vocabulary shared by planners, the synth's prompt reader and the evaluator.

Every name here is something the embedded synthesizer can render; other words are mapped onto it
by embedding similarity (see :mod:`promptloop.synthesis.synth_prompt`).
"""

from __future__ import annotations

__all__ = [
    "AVOIDABLE_SOUNDS",
    "GENRES",
    "HARSH_SOUNDS",
    "INSTRUMENTS",
    "TEXTURES",
    "canonical",
]

# Pitched voices the synth renders.
INSTRUMENTS: tuple[str, ...] = (
    "piano",
    "pads",
    "strings",
    "bells",
    "bass",
    "guitar",
    "flute",
    "drums",
)
# Non-pitched or sustained textures.
TEXTURES: tuple[str, ...] = ("rain", "ocean", "drone", "wind", "birds")
GENRES: tuple[str, ...] = ("ambient", "classical", "lofi", "new age", "cinematic", "electronic", "folk")
# Sound qualities a listener can avoid besides instruments and textures.
AVOIDABLE_SOUNDS: tuple[str, ...] = ("high-pitched", "sudden changes", "percussion", "vocals")
# Things gentle mode (hyperacusis, misophonia, tinnitus) never allows.
HARSH_SOUNDS: frozenset[str] = frozenset({"drums", "percussion", "bells", "high-pitched", "birds"})

_ALIASES: dict[str, str] = {
    "pad": "pads",
    "soft pads": "pads",
    "synth pads": "pads",
    "warm pads": "pads",
    "string": "strings",
    "violin": "strings",
    "violins": "strings",
    "cello": "strings",
    "bell": "bells",
    "chimes": "bells",
    "drum": "drums",
    "beats": "drums",
    "percussion": "drums",
    "acoustic guitar": "guitar",
    "rainfall": "rain",
    "waves": "ocean",
    "sea": "ocean",
    "ocean waves": "ocean",
    "drones": "drone",
    "birdsong": "birds",
    "high pitched": "high-pitched",
    "lo-fi": "lofi",
    "lo fi": "lofi",
}


def canonical(term: str) -> str:
    """Lower-case, trimmed, alias-resolved name of a preference term (``"Violins"`` → ``"strings"``)."""
    cleaned = " ".join(term.strip().lower().split())
    return _ALIASES.get(cleaned, cleaned)
