"""The musical plan for one segment, and the mapping from affect to musical parameters.

The mapping follows the affect–music literature summarised in docs/affect.md (Gabrielsson & Lindström
2010; Juslin & Laukka 2004; Eerola, Friberg & Bresin 2013): arousal goes with tempo, loudness,
onset density and brightness; valence goes with mode (major vs minor) and, more weakly, brightness.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from promptloop.acquisition.affect import Affect
from promptloop.audio.pitch import KEYS
from promptloop.representation.vocabulary import canonical

__all__ = [
    "DYNAMICS_LUFS",
    "KEYS",
    "MusicPlan",
    "dynamics_for",
    "tempo_for",
]

Dynamics = Literal["pp", "p", "mp", "mf", "f"]
# Target integrated loudness per dynamic marking (before the listener's ceiling is applied).
DYNAMICS_LUFS: dict[str, float] = {"pp": -30.0, "p": -26.0, "mp": -22.0, "mf": -18.0, "f": -15.0}
MAX_PROMPT_CHARS = 400


class MusicPlan(BaseModel):
    """What one segment should sound like, and the text prompt that asks a generator for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    tempo_bpm: float = Field(ge=40, le=180)
    key: str = "C"
    mode: Literal["major", "minor"] = "major"
    instruments: tuple[str, ...] = ()
    textures: tuple[str, ...] = ()
    genre: str | None = None
    dynamics: Dynamics = "mp"
    density: float = Field(default=0.5, ge=0.0, le=1.0)
    brightness: float = Field(default=0.5, ge=0.0, le=1.0)
    target_valence: float = Field(default=0.0, ge=-1, le=1)
    target_arousal: float = Field(default=0.0, ge=-1, le=1)
    rationale: str = Field(default="", max_length=500)

    @field_validator("key")
    @classmethod
    def _known_key(cls, value: str) -> str:
        aliases = {"Db": "C#", "D#": "Eb", "Gb": "F#", "G#": "Ab", "A#": "Bb"}
        value = aliases.get(value, value)
        if value not in KEYS:
            raise ValueError(f"key must be one of {', '.join(KEYS)}")
        return value

    @field_validator("instruments", "textures")
    @classmethod
    def _canonical_terms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(canonical(v) for v in value if v.strip()))

    @property
    def target(self) -> Affect:
        return Affect(self.target_valence, self.target_arousal)

    def terms(self) -> set[str]:
        """Every instrument, texture and genre the plan asks for."""
        return set(self.instruments) | set(self.textures) | ({self.genre} if self.genre else set())


def tempo_for(arousal: float) -> float:
    """Tempo in BPM for an arousal level: 56 BPM at -1, 88 at 0, 128 at +1 (rounded)."""
    bpm = 88 + 32 * arousal if arousal < 0 else 88 + 40 * arousal
    return float(round(bpm))


def dynamics_for(arousal: float) -> str:
    """A dynamic marking for an arousal level."""
    if arousal < -0.55:
        return "pp"
    if arousal < -0.15:
        return "p"
    if arousal < 0.25:
        return "mp"
    if arousal < 0.6:
        return "mf"
    return "f"
