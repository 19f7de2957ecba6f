"""A tiny General MIDI SoundFont built in code, so render tests never depend on a system file.

Neither pyfluidsynth nor mido writes SoundFonts, so this writes the SF2 2.01 RIFF layout directly
(one looped or one-shot sample per preset); FluidSynth then loads it like any other .sf2.  Each
preset's timbre is chosen to be told apart by measurement: plucked ones decay, blown and bowed ones
sustain, the flute is nearly a sine, the pad swells in.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["TinyPreset", "TINY_PRESETS", "write_tiny_soundfont"]

_ROOT_KEY = 60
_PERIOD = 64  # samples per cycle of the root key
_RATE = int(round(261.6256 * _PERIOD))


@dataclass(frozen=True)
class TinyPreset:
    name: str
    program: int
    bank: int
    harmonics: tuple[float, ...]  # partial amplitudes (empty: noise, a drum)
    attack_s: float
    decay_s: float  # time to fall to the sustain level
    sustain_db: float  # attenuation once decayed (0 = full level held)
    release_s: float


TINY_PRESETS: tuple[TinyPreset, ...] = (
    TinyPreset("piano", 0, 0, (1.0, 0.5, 0.33, 0.25, 0.2, 0.12), 0.002, 1.6, 40.0, 0.3),
    TinyPreset("bass", 32, 0, (1.0, 0.4, 0.15), 0.005, 1.2, 30.0, 0.15),
    TinyPreset("cello", 42, 0, (1.0, 0.6, 0.45, 0.3, 0.2), 0.08, 0.2, 0.0, 0.3),
    TinyPreset("harp", 46, 0, (1.0, 0.7, 0.5, 0.35, 0.25, 0.2, 0.15), 0.001, 0.7, 60.0, 0.4),
    TinyPreset("strings", 48, 0, (1.0, 0.5, 0.33, 0.25), 0.3, 0.2, 0.0, 0.6),
    TinyPreset("flute", 73, 0, (1.0, 0.08), 0.06, 0.2, 0.0, 0.2),
    TinyPreset("pads", 89, 0, (1.0, 0.3, 0.1), 0.6, 0.3, 0.0, 1.0),
    TinyPreset("kit", 0, 128, (), 0.001, 0.15, 96.0, 0.05),
    TinyPreset("brush kit", 40, 128, (), 0.001, 0.25, 96.0, 0.05),
)


def _timecents(seconds: float) -> int:
    return int(round(1200 * np.log2(max(seconds, 0.001))))


def _sample(preset: TinyPreset, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    if not preset.harmonics:  # a drum: half a second of decaying noise, played once
        n = _RATE // 2
        return rng.standard_normal(n) * np.exp(-np.arange(n) / (0.05 * _RATE)), False
    t = np.arange(_PERIOD * 64) / _PERIOD
    wave = sum(a * np.sin(2 * np.pi * (k + 1) * t) for k, a in enumerate(preset.harmonics))
    return np.asarray(wave), True


def _chunk(tag: bytes, data: bytes) -> bytes:
    pad = b"\0" if len(data) % 2 else b""
    return tag + struct.pack("<I", len(data)) + data + pad


def _list(kind: bytes, *chunks: bytes) -> bytes:
    return _chunk(b"LIST", kind + b"".join(chunks))


def _name(text: str) -> bytes:
    return text.encode("ascii")[:19].ljust(20, b"\0")


def write_tiny_soundfont(path: Path, presets: tuple[TinyPreset, ...] = TINY_PRESETS) -> Path:
    """Write a valid SF2 with one instrument per preset; returns ``path``."""
    rng = np.random.default_rng(0)
    pcm, shdr = bytearray(), bytearray()
    igen, ibag, inst = bytearray(), bytearray(), bytearray()
    pgen, pbag, phdr = bytearray(), bytearray(), bytearray()
    for i, preset in enumerate(presets):
        wave, looped = _sample(preset, rng)
        data = (np.clip(wave / np.max(np.abs(wave)), -1, 1) * 30000).astype("<i2")
        start = len(pcm) // 2
        pcm += data.tobytes() + b"\0" * 92  # 46 zero samples after each sample (spec)
        end = start + data.size
        loop_start, loop_end = (start + _PERIOD * 8, end - _PERIOD * 8) if looped else (start, end - 1)
        shdr += _name(preset.name) + struct.pack("<5IBbHH", start, end, loop_start, loop_end, _RATE,
                                                _ROOT_KEY, 0, 0, 1)
        ibag += struct.pack("<HH", len(igen) // 4, 0)
        gens = [
            (34, _timecents(preset.attack_s)),  # attackVolEnv
            (36, _timecents(preset.decay_s)),  # decayVolEnv
            (37, int(preset.sustain_db * 10)),  # sustainVolEnv, centibels
            (38, _timecents(preset.release_s)),  # releaseVolEnv
            (54, 1 if looped else 0),  # sampleModes
            (58, _ROOT_KEY),  # overridingRootKey
            (53, i),  # sampleID, always last
        ]
        for oper, amount in gens:
            igen += struct.pack("<Hh", oper, amount)
        inst += _name(preset.name) + struct.pack("<H", i)
        pbag += struct.pack("<HH", len(pgen) // 4, 0)
        pgen += struct.pack("<HH", 41, i)  # instrument
        phdr += _name(preset.name) + struct.pack("<HHHIII", preset.program, preset.bank, i, 0, 0, 0)
    n = len(presets)
    shdr += _name("EOS") + struct.pack("<5IBbHH", 0, 0, 0, 0, 0, 0, 0, 0, 0)
    ibag += struct.pack("<HH", len(igen) // 4, 0)
    igen += struct.pack("<HH", 0, 0)
    inst += _name("EOI") + struct.pack("<H", n)
    pbag += struct.pack("<HH", len(pgen) // 4, 0)
    pgen += struct.pack("<HH", 0, 0)
    phdr += _name("EOP") + struct.pack("<HHHIII", 0, 0, n, 0, 0, 0)
    mod_terminal = b"\0" * 10
    body = b"sfbk" + _list(
        b"INFO", _chunk(b"ifil", struct.pack("<HH", 2, 1)), _chunk(b"isng", b"EMU8000\0"),
        _chunk(b"INAM", b"promptloop tiny test font\0"),
    ) + _list(b"sdta", _chunk(b"smpl", bytes(pcm))) + _list(
        b"pdta", _chunk(b"phdr", bytes(phdr)), _chunk(b"pbag", bytes(pbag)), _chunk(b"pmod", mod_terminal),
        _chunk(b"pgen", bytes(pgen)), _chunk(b"inst", bytes(inst)), _chunk(b"ibag", bytes(ibag)),
        _chunk(b"imod", mod_terminal), _chunk(b"igen", bytes(igen)), _chunk(b"shdr", bytes(shdr)),
    )
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path
