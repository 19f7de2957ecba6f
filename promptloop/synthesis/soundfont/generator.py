"""The sampled embedded default: plans become scores, played through a General MIDI SoundFont.

Registered as ``soundfont`` and chosen as the default generator whenever a SoundFont and
libfluidsynth are present (:func:`soundfont_missing` says why not otherwise).  Every instrument the
plan names that General MIDI has is played as itself; a name it lacks is played by the nearest GM
voice, and :meth:`SoundFontGenerator.substitutions` says so for provenance and the CLI.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from promptloop.representation.plan import KEYS, MusicPlan
from promptloop.representation.vocabulary import GM_VOICES, TEXTURES, Voice, gm_voice
from promptloop.synthesis.base import GenerationRequest, Generator
from promptloop.synthesis.score import Score, to_midi
from promptloop.synthesis.soundfont.compose import Composition, compose
from promptloop.synthesis.soundfont.mixdown import mixdown
from promptloop.synthesis.soundfont.render import FluidRenderer, fluidsynth_missing

__all__ = ["DEBIAN_SOUNDFONTS", "SoundFontGenerator", "find_soundfont", "soundfont_missing"]

DEBIAN_SOUNDFONTS: tuple[Path, ...] = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
)
_GENTLE = re.compile(r"\b(gentle|soothing|soft attacks?)\b")
_NEGATED = re.compile(r"\b(?:no|without|not|avoid)\s+([a-z-]+(?:\s+[a-z-]+)?)")
_FALLBACK_VOICE = "pads"


def find_soundfont(configured: Path | None) -> Path | None:
    """The configured SoundFont if it exists, else the first Debian one installed."""
    if configured is not None:
        return configured if configured.is_file() else None
    return next((p for p in DEBIAN_SOUNDFONTS if p.is_file()), None)


def soundfont_missing(configured: Path | None) -> str | None:
    """None when the sampled renderer works here, else what to install or set."""
    if configured is not None and not configured.is_file():
        return f"PROMPTLOOP_SOUNDFONT={configured} is not a file"
    if find_soundfont(configured) is None:
        return ("no General MIDI SoundFont found: install Debian's fluid-soundfont-gm "
                "(apt-get install fluid-soundfont-gm) or set PROMPTLOOP_SOUNDFONT to a .sf2/.sf3 file")
    return fluidsynth_missing()


class SoundFontGenerator(Generator):
    """Registered as ``soundfont``: composed scores, sampled instruments, deterministic by seed."""

    name = "soundfont"

    def __init__(self, soundfont: Path, sample_rate: int = 32000, use_embeddings: bool = True) -> None:
        self.soundfont = Path(soundfont)
        self.sample_rate = sample_rate
        self.use_embeddings = use_embeddings
        self.prior_seconds = 4.0
        self._renderer = FluidRenderer(self.soundfont, sample_rate)

    # -- what the plan asks for --------------------------------------------------------------------
    def _voices(self, plan: MusicPlan) -> tuple[list[Voice], dict[str, str]]:
        negated = set(_NEGATED.findall(plan.prompt.lower()))
        voices: list[Voice] = []
        substituted: dict[str, str] = {}
        for name in plan.instruments:
            if name in negated or name in TEXTURES:
                continue
            voice = gm_voice(name)
            if voice is None:
                voice = self._nearest(name)
                substituted[name] = voice.name
            elif self._renderer.preset_name(voice.program, voice.role == "drums") is None:
                fallback = gm_voice(_FALLBACK_VOICE)
                assert fallback is not None
                substituted[name] = f"{fallback.name} (this SoundFont has no {name})"
                voice = fallback
            if voice not in voices:
                voices.append(voice)
        if not voices:
            fallback = gm_voice(_FALLBACK_VOICE)
            assert fallback is not None
            voices.append(fallback)
        return voices, substituted

    def _nearest(self, word: str) -> Voice:
        """The GM voice whose name is closest in meaning to a word General MIDI lacks."""
        fallback = gm_voice(_FALLBACK_VOICE)
        assert fallback is not None
        if not self.use_embeddings:
            return fallback
        from promptloop.representation.text_embedding import get_embedder

        embedder = get_embedder()
        names = [v.name for v in GM_VOICES]
        sims = embedder.embed([word]) @ embedder.embed(names).T
        best = int(np.argmax(sims[0]))
        return GM_VOICES[best] if sims[0, best] >= 0.4 else fallback

    def substitutions(self, plan: MusicPlan) -> dict[str, str]:
        return self._voices(plan)[1]

    def _start_tempo(self, request: GenerationRequest) -> float:
        if request.prior_plan is not None:
            return request.prior_plan.tempo_bpm
        if request.prior is not None and request.prior.size > self.sample_rate:
            from promptloop.audio.analysis import measure

            found = measure(request.prior, self.sample_rate).tempo_bpm
            if 40 <= found <= 180:
                return found
        return request.plan.tempo_bpm

    def score_for(self, request: GenerationRequest) -> Score:
        """The score a request is played from (the same one :meth:`generate` renders)."""
        plan = request.plan
        voices, _ = self._voices(plan)
        gentle = bool(_GENTLE.search(plan.prompt.lower()))
        composition = Composition(
            tempo_bpm=plan.tempo_bpm, key=plan.key, mode=plan.mode, dynamics=plan.dynamics,
            density=plan.density, brightness=plan.brightness, valence=plan.target_valence,
            arousal=plan.target_arousal, gentle=gentle,
        )
        return compose(composition, voices, request.duration_s, request.seed,
                       start_tempo=self._start_tempo(request), tail_s=request.tail_s)

    def midi_for(self, request: GenerationRequest) -> bytes:
        return to_midi(self.score_for(request))

    def generate(self, requests: Sequence[GenerationRequest]) -> list[np.ndarray]:
        out = []
        for request in requests:
            plan = request.plan
            score = self.score_for(request)
            gentle = bool(_GENTLE.search(plan.prompt.lower()))
            darken = min(0.0, (plan.brightness - 0.5) * 4800.0)
            instruments = self._renderer.render(score, soft_attack=gentle, darken_cents=darken)
            drone_hz = 440.0 * 2 ** ((36 + KEYS.index(plan.key) - 69) / 12)  # the tonic two octaves below C4
            textures = [t for t in plan.textures if t in TEXTURES]
            out.append(mixdown(
                instruments, self.sample_rate, textures, brightness=plan.brightness, density=plan.density,
                gentle=gentle, drone_hz=drone_hz,
                rng=np.random.default_rng(request.seed),
            ))
        return out

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "sample_rate": self.sample_rate, "kind": "sampled (General MIDI SoundFont)",
                "soundfont": str(self.soundfont)}
