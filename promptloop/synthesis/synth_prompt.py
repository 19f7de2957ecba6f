"""Reading a free-text music prompt into the embedded synthesizer's parameters.

Known words are read directly (tempo, key, mode, instruments, textures, dynamics, density,
brightness); other content words are mapped onto the synth's vocabulary by MiniLM embedding
similarity, so "cello" or "harp" or "waterfall" still ask for something the synth can play.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

from promptloop.representation.plan import KEYS, MusicPlan
from promptloop.representation.vocabulary import (
    BRIGHTNESS_WORDS,
    DENSITY_WORDS,
    DYNAMICS_WORDS,
    INSTRUMENTS,
    TEXTURES,
    canonical,
    gm_voice,
)

__all__ = ["SynthParams", "read_prompt"]

_TEMPO_WORDS = {
    "very slow": 56.0,
    "slow": 66.0,
    "unhurried": 66.0,
    "relaxed tempo": 72.0,
    "moderate": 90.0,
    "steady": 90.0,
    "upbeat": 112.0,
    "lively": 118.0,
    "fast": 126.0,
    "energetic": 128.0,
}
# The words the rule planner writes (one table in the vocabulary) plus synonyms other writers use.
_DYNAMIC_WORDS = {word: marking for marking, word in DYNAMICS_WORDS.items()} | {
    "pianissimo": "pp",
    "very quiet": "pp",
    "whisper": "pp",
    "quiet": "p",
    "gentle": "p",
    "medium": "mp",
    "powerful": "f",
}
_DENSITY_WORDS = {word: value for word, _, value in DENSITY_WORDS} | {
    "minimal": 0.15,
    "spacious": 0.25,
    "rhythmic": 0.7,
    "dense": 0.85,
    "driving": 0.9,
}
_BRIGHTNESS_WORDS = {word: value for word, _, value in BRIGHTNESS_WORDS} | {
    "muffled": 0.15,
    "mellow": 0.3,
    "airy": 0.75,
    "sparkling": 0.85,
}
_MINOR_WORDS = ("minor", "melancholic", "sad", "somber", "sombre", "tense", "anxious", "brooding")
_MAJOR_WORDS = ("major", "happy", "uplifting", "joyful", "hopeful", "cheerful", "peaceful")
# Phrases the embedding step maps unknown words onto.
_CONCEPTS: dict[str, str] = {
    "piano": "piano keys",
    "pads": "soft synthesizer pad",
    "strings": "string orchestra violin cello",
    "bells": "bells chimes glockenspiel",
    "guitar": "acoustic guitar plucked strings harp",
    "flute": "flute woodwind breath",
    "drums": "drums percussion beat",
    "bass": "bass",
    "rain": "rain drops water",
    "ocean": "ocean waves sea shore",
    "drone": "drone sustained hum",
    "wind": "wind breeze air",
    "birds": "birds singing forest",
}
_STOPWORDS = frozenset(
    ["a", "an", "and", "the", "with", "of", "in", "at", "to", "for", "by", "on", "music", "instrumental", "track", "song", "piece", "sound", "sounds", "feel", "feeling", "mood", "style", "tone", "tones", "key", "bpm", "very", "some", "little", "bit", "more", "less", "like", "from", "into", "over", "under"]
)
_NEGATION = re.compile(r"\b(?:no|without|not|avoid)\s+([a-z-]+(?:\s+[a-z-]+)?)")
_SIMILARITY_THRESHOLD = 0.45


@dataclass(frozen=True)
class SynthParams:
    """Everything the renderer needs, read from the prompt (and inherited from prior audio)."""

    tempo_bpm: float = 88.0
    key: str = "C"
    mode: str = "major"
    voices: tuple[str, ...] = ("pads", "piano")
    dynamics: str = "mp"
    density: float = 0.5
    brightness: float = 0.5
    gentle: bool = False
    mapped: dict[str, str] = field(default_factory=dict)  # word in the prompt -> the synth voice playing it


def _synth_voice(term: str) -> str:
    voice = gm_voice(term)
    return voice.synth if voice is not None else term


V = TypeVar("V")


def _find_phrase(text: str, table: Mapping[str, V]) -> V | None:
    for phrase in sorted(table, key=len, reverse=True):
        if re.search(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", text):
            return table[phrase]
    return None


def _vocab_terms(text: str) -> list[str]:
    from promptloop.representation.vocabulary import _ALIASES

    found: list[str] = []
    names = {name: name for name in (*INSTRUMENTS, *TEXTURES)} | _ALIASES
    for phrase in sorted(names, key=len, reverse=True):
        if re.search(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", text):
            term = canonical(names[phrase])
            if term in INSTRUMENTS or term in TEXTURES:
                found.append(term)
            text = re.sub(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", " ", text)
    return list(dict.fromkeys(found))


def _unknown_words(text: str, known_tables: list[dict[str, object]]) -> list[str]:
    from promptloop.representation.vocabulary import _ALIASES, GENRES

    known = set(INSTRUMENTS) | set(TEXTURES) | set(_ALIASES) | set(GENRES) | set(_STOPWORDS)
    for table in known_tables:
        for phrase in table:
            known.update(phrase.split())
    known.update(k.lower() for k in KEYS)
    known.update(("major", "minor", "gentle", "soothing", "calm", "ambient"))
    words = re.findall(r"[a-z][a-z-]{2,}", text)
    return [w for w in dict.fromkeys(words) if w not in known]


def _map_by_embedding(words: list[str]) -> dict[str, str]:
    if not words:
        return {}
    from promptloop.representation.text_embedding import get_embedder

    embedder = get_embedder()
    names = list(_CONCEPTS)
    concept_vecs = embedder.embed([_CONCEPTS[n] for n in names], persist=True)  # our own phrases
    word_vecs = embedder.embed(words)
    sims = word_vecs @ concept_vecs.T
    mapped = {}
    for word, row in zip(words, sims, strict=True):
        best = int(row.argmax())
        if row[best] >= _SIMILARITY_THRESHOLD:
            mapped[word] = names[best]
    return mapped


def read_prompt(prompt: str, inherit: SynthParams | None = None, *, use_embeddings: bool = True) -> SynthParams:
    """Read ``prompt``; anything it does not say is inherited from ``inherit`` (the prior audio)."""
    base = inherit or SynthParams()
    text = " ".join(prompt.lower().split())
    negated = {canonical(m) for m in _NEGATION.findall(text)}
    negated |= {canonical(m.split()[0]) for m in _NEGATION.findall(text)}
    text_pos = _NEGATION.sub(" ", text)

    tempo = base.tempo_bpm
    match = re.search(r"(\d{2,3}(?:\.\d+)?)\s*bpm", text_pos)
    if match:
        tempo = min(180.0, max(40.0, float(match.group(1))))
    elif (word_tempo := _find_phrase(text_pos, _TEMPO_WORDS)) is not None:
        tempo = float(word_tempo)

    key, mode = base.key, base.mode
    km = re.search(r"(?<![a-z])([a-g])(#|b)?\s+(major|minor)", text_pos)
    if km:
        name = km.group(1).upper() + (km.group(2) or "")
        name = {"Db": "C#", "D#": "Eb", "Gb": "F#", "G#": "Ab", "A#": "Bb"}.get(name, name)
        key = name if name in KEYS else key
        mode = km.group(3)
    elif any(re.search(rf"\b{w}\b", text_pos) for w in _MINOR_WORDS):
        mode = "minor"
    elif any(re.search(rf"\b{w}\b", text_pos) for w in _MAJOR_WORDS):
        mode = "major"

    dynamics = _find_phrase(text_pos, _DYNAMIC_WORDS) or base.dynamics
    density = _find_phrase(text_pos, _DENSITY_WORDS)
    brightness = _find_phrase(text_pos, _BRIGHTNESS_WORDS)
    gentle = bool(re.search(r"\b(gentle|soothing|smooth|soft attacks?)\b", text)) or base.gentle

    voices = _vocab_terms(text_pos)
    mapped: dict[str, str] = {}
    if use_embeddings:
        tables: list[dict[str, object]] = [_TEMPO_WORDS, _DYNAMIC_WORDS, _DENSITY_WORDS, _BRIGHTNESS_WORDS]  # type: ignore[list-item]
        mapped = _map_by_embedding(_unknown_words(text_pos, tables))
        voices += [v for v in mapped.values() if v not in voices]
    voices = [v for v in voices if v not in negated]
    # The synth has eight voices: any other instrument is played by the nearest one, on the record.
    for name in voices:
        if _synth_voice(name) != name:
            mapped[name] = _synth_voice(name)
    voices = [_synth_voice(v) for v in voices]
    if not voices:
        voices = [v for v in base.voices if v not in negated] or ["pads"]
    return replace(
        base,
        tempo_bpm=tempo,
        key=key,
        mode=mode,
        voices=tuple(dict.fromkeys(voices)),
        dynamics=str(dynamics),
        density=float(density) if density is not None else base.density,
        brightness=float(brightness) if brightness is not None else base.brightness,
        gentle=gentle,
        mapped=mapped,
    )


def params_from_plan(plan: MusicPlan) -> SynthParams:
    """The parameters a plan states explicitly (used to continue from our own prior segment)."""
    return SynthParams(
        tempo_bpm=plan.tempo_bpm,
        key=plan.key,
        mode=plan.mode,
        voices=tuple(dict.fromkeys(_synth_voice(v) for v in plan.instruments)) + tuple(plan.textures) or ("pads",),
        dynamics=plan.dynamics,
        density=plan.density,
        brightness=plan.brightness,
    )
