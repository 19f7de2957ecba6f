"""The embedded offline generator: a procedural music renderer that follows the prompt text.

It renders real musical structure at 32 kHz — a chord progression in the prompt's key and mode,
bass, pads or strings, a piano/guitar/flute melody or arpeggio, optional bells, drums and nature
textures — with tempo, dynamics, density and brightness read from the words (see
:mod:`promptloop.synthesis.synth_prompt`).  Rendering is vectorised numpy plus pedalboard's filters
and reverb, deterministic for a seed, and continues prior audio by inheriting its tempo and key and
ramping smoothly to new ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pedalboard import (
    HighpassFilter,
    HighShelfFilter,
    LowpassFilter,
    Pedalboard,
    Reverb,
)

from promptloop.audio.mix import normalize_loudness
from promptloop.representation.plan import DYNAMICS_LUFS, KEYS, MusicPlan
from promptloop.synthesis.base import GenerationRequest, Generator
from promptloop.synthesis.synth_prompt import SynthParams, params_from_plan, read_prompt
from promptloop.synthesis.tempo import beat_times
from promptloop.synthesis.textures import TEXTURE_NAMES, render_texture

__all__ = ["SynthGenerator", "render"]

_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
_PROGRESSIONS = {
    "major": ((0, 5, 3, 4), (0, 3, 5, 4), (0, 3, 0, 4)),
    "minor": ((0, 5, 2, 6), (0, 3, 5, 4), (0, 6, 5, 6)),
}
_VELOCITY = {"pp": 0.35, "p": 0.5, "mp": 0.65, "mf": 0.8, "f": 1.0}
_TWO_PI = np.float32(2 * np.pi)


def _midi_hz(note: float) -> float:
    return float(440.0 * 2 ** ((note - 69) / 12))


class _Score:
    """A mono buffer plus the beat grid; voices add notes into it."""

    def __init__(self, seconds: float, sr: int, beats: np.ndarray) -> None:
        self.sr = sr
        self.n = int(round(seconds * sr))
        self.beats = beats  # beat onset times in seconds (covers the buffer and a bit more)

    def new(self) -> np.ndarray:
        return np.zeros(self.n, dtype=np.float32)

    def add(self, buf: np.ndarray, start_s: float, signal: np.ndarray) -> None:
        start = int(round(start_s * self.sr))
        if start >= self.n or start + signal.size <= 0:
            return
        lo = max(0, -start)
        hi = min(signal.size, self.n - start)
        buf[start + lo : start + hi] += signal[lo:hi]


def _envelope(n: int, sr: int, attack: float, release: float, tau: float | None) -> np.ndarray:
    t = np.arange(n, dtype=np.float32) / sr
    env = np.ones(n, dtype=np.float32)
    a = max(1, int(attack * sr))
    env[: min(a, n)] = 0.5 - 0.5 * np.cos(np.pi * np.arange(min(a, n), dtype=np.float32) / a)
    if tau is not None:
        env *= np.exp(-t / tau)
    r = max(1, int(release * sr))
    r = min(r, n)
    env[n - r :] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(r, dtype=np.float32) / r)
    return env


def _partials(
    freq: float,
    seconds: float,
    sr: int,
    amps: Sequence[float],
    ratios: Sequence[float] | None = None,
    *,
    attack: float,
    release: float,
    tau: float | None = None,
    partial_decay: float = 0.0,
    vibrato: float = 0.0,
    phase_rng: np.random.Generator | None = None,
) -> np.ndarray:
    n = max(2, int(seconds * sr))
    t = np.arange(n, dtype=np.float32) / sr
    ratios = ratios or [k + 1 for k in range(len(amps))]
    nyquist = sr / 2 - 500
    phase_mod = (vibrato * np.sin(_TWO_PI * 5.0 * t) / 5.0).astype(np.float32) if vibrato else 0.0
    out = np.zeros(n, dtype=np.float32)
    for k, (amp, ratio) in enumerate(zip(amps, ratios, strict=False)):
        f = freq * ratio
        if f >= nyquist or amp == 0:
            continue
        phase = np.float32(phase_rng.uniform(0, 2 * np.pi)) if phase_rng is not None else np.float32(0)
        wave = np.sin(_TWO_PI * f * (t + phase_mod) + phase)
        if partial_decay:
            wave *= np.exp(-t * partial_decay * k)
        out += np.float32(amp) * wave
    return out * _envelope(n, sr, attack, release, tau)


def _beat_grid(seconds: float, tempo: float, start_tempo: float) -> np.ndarray:
    """Beat times; the tempo glides from ``start_tempo`` to ``tempo`` (:mod:`.tempo`)."""
    times = beat_times(seconds, tempo, start_tempo)
    return times[: times.size - 1]


def _chords(params: SynthParams, bars: int, rng: np.random.Generator) -> list[list[int]]:
    scale = _MAJOR_SCALE if params.mode == "major" else _MINOR_SCALE
    progression = _PROGRESSIONS[params.mode][int(rng.integers(len(_PROGRESSIONS[params.mode])))]
    root = 48 + KEYS.index(params.key)
    chords = []
    for bar in range(bars):
        degree = progression[bar % len(progression)]
        notes = []
        for step in (0, 2, 4):
            d = degree + step
            notes.append(root + scale[d % 7] + 12 * (d // 7))
        chords.append(notes)
    return chords


def render(
    params: SynthParams,
    seconds: float,
    seed: int,
    sample_rate: int = 32000,
    *,
    start_tempo: float | None = None,
) -> np.ndarray:
    """Render ``seconds`` of music for ``params``; same arguments, same samples."""
    rng = np.random.default_rng(seed)
    sr = sample_rate
    beats = _beat_grid(seconds + 2.0, params.tempo_bpm, start_tempo or params.tempo_bpm)
    score = _Score(seconds, sr, beats)
    bar_starts = beats[::4]
    chords = _chords(params, len(bar_starts), rng)
    velocity = _VELOCITY.get(params.dynamics, 0.65)
    gentle = params.gentle
    voices = set(params.voices)
    if gentle:
        voices -= {"drums", "bells", "birds"}
        voices = voices or {"pads"}
    attack = 0.03 if gentle else 0.004
    mix = score.new()

    def bar_len(i: int) -> float:
        return float(bar_starts[i + 1] - bar_starts[i]) if i + 1 < len(bar_starts) else 4 * 60 / params.tempo_bpm

    # Sustained harmony: pads and strings, one chord per bar, overlapping releases.
    for voice, level in (("pads", 0.10), ("strings", 0.09)):
        if voice not in voices:
            continue
        buf = score.new()
        for i, start in enumerate(bar_starts[:-1]):
            if start > seconds:
                break
            length = bar_len(i) + 0.8
            for note in chords[i]:
                freq = _midi_hz(note + 12)
                if voice == "pads":
                    amps = [1.0, 0.35 * (0.3 + params.brightness), 0.12 * params.brightness]
                    # A fixed ±0.15 Hz detune beats at 0.3 Hz, far below any tempo, so the
                    # chorus never reads as a pulse (a relative detune beat at ~1.5 Hz did).
                    for detune_hz in (-0.15, 0.15):
                        score.add(buf, start, _partials(freq + detune_hz, length, sr, amps,
                                                        attack=min(0.6, length / 3), release=0.8,
                                                        phase_rng=rng))
                else:
                    amps = [1.0 / k for k in range(1, 7)]
                    score.add(buf, start, _partials(freq, length, sr, amps, attack=min(0.7, length / 3),
                                                    release=0.8, vibrato=0.004, phase_rng=rng))
        mix += level * buf

    # Bass: root on beats 1 and 3; on every beat when nothing else marks the pulse or density is high.
    melodic = voices & {"piano", "guitar"}  # voices whose attacks mark the beat
    if "bass" in voices or not melodic:
        every = 1 if (params.density > 0.7 or not melodic) else 2
        buf = score.new()
        for b, start in enumerate(beats[:-1]):
            if start > seconds:
                break
            if b % every:
                continue
            bar = b // 4
            note = chords[min(bar, len(chords) - 1)][0] - 12
            length = float(beats[b + 1] - start) * every
            accent = 1.0 if b % 4 == 0 else 0.75
            score.add(buf, start, accent * _partials(_midi_hz(note), length, sr, [1.0, 0.3, 0.08],
                                                     attack=0.08 if gentle else 0.01, release=0.08, tau=0.9))
        mix += 0.22 * buf

    # Melody / arpeggio: piano, guitar, flute.  Notes land on beats so the pulse is audible.
    scale = _MAJOR_SCALE if params.mode == "major" else _MINOR_SCALE
    # Brightness also moves the melody's register: timbre filtering alone shifted the spectral
    # centroid too little for "bright" and "dark" plans to measure differently (eval report).
    register = 12 if params.brightness > 0.65 else -12 if params.brightness < 0.2 else 0
    root = 60 + KEYS.index(params.key) + register
    for voice in ("piano", "guitar", "flute"):
        if voice not in voices:
            continue
        buf = score.new()
        subdivision = 2 if (params.density > 0.65 or voice == "guitar") else 1
        degree = int(rng.integers(0, 5))
        for b, start in enumerate(beats[:-1]):
            if start > seconds:
                break
            beat_len = float(beats[b + 1] - start)
            chord = chords[min(b // 4, len(chords) - 1)]
            for sub in range(subdivision):
                onset = start + sub * beat_len / subdivision
                if voice == "flute" and sub:
                    continue  # flute holds one note per beat
                if subdivision == 2 and sub == 1 and voice != "guitar" and params.density < 0.8:
                    continue
                if voice == "guitar" or (subdivision == 2 and sub == 1):
                    note = chord[(b * subdivision + sub) % 3] + 12
                else:
                    degree = int(np.clip(degree + rng.integers(-2, 3), 0, 9))
                    note = root + scale[degree % 7] + 12 * (degree // 7)
                accent = (1.0 if b % 4 == 0 else 0.8) * (1.0 if sub == 0 else 0.4)
                if voice == "piano":
                    tilt = 0.5 + params.brightness
                    sig = _partials(_midi_hz(note), 1.6, sr, [1.0, 0.45 * velocity * tilt, 0.2 * velocity * tilt, 0.1 * velocity * tilt, 0.05 * tilt],
                                    attack=attack, release=0.15, tau=0.7, partial_decay=1.2)
                elif voice == "guitar":
                    sig = _partials(_midi_hz(note), 1.2, sr, [1.0, 0.5, 0.33, 0.2, 0.12, 0.08],
                                    attack=attack, release=0.1, tau=0.45, partial_decay=2.0)
                else:
                    sig = _partials(_midi_hz(note + 12), beat_len + 0.15, sr, [1.0, 0.2, 0.05],
                                    attack=0.04, release=0.2, tau=0.8, vibrato=0.003)
                score.add(buf, onset, accent * velocity * sig)
        mix += {"piano": 0.16, "guitar": 0.13, "flute": 0.08}[voice] * buf

    if "bells" in voices:
        buf = score.new()
        for i, start in enumerate(bar_starts[:-1]):
            if start > seconds:
                break
            if rng.random() < 0.6:
                note = chords[i][int(rng.integers(3))] + 24
                score.add(buf, start, _partials(_midi_hz(note), 3.0, sr, [1.0, 0.5, 0.25, 0.12],
                                                [1.0, 2.76, 5.40, 8.93], attack=0.003, release=0.3,
                                                tau=1.2, partial_decay=0.8))
        mix += 0.06 * velocity * buf

    if "drums" in voices:
        mix += _drums(score, params, rng)

    for texture in TEXTURE_NAMES:  # textures swell in rather than switch on
        if texture in voices:
            mix += render_texture(texture, score.n, sr, rng, gentle=gentle, drone_hz=_midi_hz(chords[0][0] - 12))

    cutoff = 1500.0 + 6500.0 * params.brightness
    if gentle:
        cutoff = min(cutoff, 3500.0)
    board = Pedalboard([
        HighpassFilter(cutoff_frequency_hz=35.0),
        HighShelfFilter(cutoff_frequency_hz=1200.0, gain_db=(params.brightness - 0.5) * 16.0),
        LowpassFilter(cutoff_frequency_hz=cutoff),
        Reverb(room_size=0.35 + 0.5 * (1 - params.density), wet_level=0.22, dry_level=0.8, damping=0.6),
    ])
    out = board(mix[None, :], sr)[0]
    out = normalize_loudness(out, sr, DYNAMICS_LUFS.get(params.dynamics, -22.0))
    return out.astype(np.float32)


def _noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(n).astype(np.float32)


def _drums(score: _Score, params: SynthParams, rng: np.random.Generator) -> np.ndarray:
    sr = score.sr
    buf = score.new()
    kick_t = np.arange(int(0.3 * sr), dtype=np.float32) / sr
    kick = np.sin(_TWO_PI * (50 * kick_t + 70 * (1 - np.exp(-kick_t * 30)) / 30)) * np.exp(-kick_t * 12)
    hat_n = int(0.04 * sr)
    for b, start in enumerate(score.beats[:-1]):
        if start > score.n / sr:
            break
        if b % 2 == 0 or params.density > 0.6:
            score.add(buf, start, (1.0 if b % 4 == 0 else 0.7) * kick.astype(np.float32))
        if params.density > 0.7:
            beat_len = float(score.beats[b + 1] - start)
            for sub in (0.0, 0.5):
                hat = _noise(hat_n, rng) * _envelope(hat_n, sr, 0.001, 0.005, 0.008)
                hat = np.diff(hat, prepend=0.0).astype(np.float32)  # crude high-pass: hats are bright
                score.add(buf, start + sub * beat_len, (0.06 if sub else 0.1) * hat)
    return 0.25 * buf


class SynthGenerator(Generator):
    """Registered as ``synth``: deterministic by seed, no download, ~real-time × hundreds."""

    name = "synth"

    def __init__(self, sample_rate: int = 32000, use_embeddings: bool = True) -> None:
        self.sample_rate = sample_rate
        self.use_embeddings = use_embeddings
        self.prior_seconds = 4.0

    def _inherit(self, request: GenerationRequest) -> SynthParams | None:
        if request.prior_plan is not None:
            return read_prompt(request.prior_plan.prompt, params_from_plan(request.prior_plan),
                               use_embeddings=False)
        if request.prior is not None and request.prior.size > self.sample_rate:
            from promptloop.audio.analysis import measure

            found = measure(request.prior, self.sample_rate)
            tempo = found.tempo_bpm if 40 <= found.tempo_bpm <= 180 else 88.0
            return SynthParams(tempo_bpm=tempo, key=found.key, mode=found.mode)
        return None

    def generate(self, requests: Sequence[GenerationRequest]) -> list[np.ndarray]:
        out = []
        for request in requests:
            inherit = self._inherit(request)
            params = read_prompt(request.plan.prompt, inherit, use_embeddings=self.use_embeddings)
            start_tempo = inherit.tempo_bpm if inherit is not None else params.tempo_bpm
            out.append(render(params, request.duration_s, request.seed, self.sample_rate,
                              start_tempo=start_tempo))
        return out

    def substitutions(self, plan: MusicPlan) -> dict[str, str]:
        return dict(read_prompt(plan.prompt, use_embeddings=self.use_embeddings).mapped)

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "sample_rate": self.sample_rate, "kind": "procedural"}
