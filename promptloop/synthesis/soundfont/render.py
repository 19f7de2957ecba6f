"""Playing a score through a General MIDI SoundFont with FluidSynth (pyfluidsynth + libfluidsynth).

One FluidSynth instance per renderer, reset before each score, driven sample-accurately: events are
applied between ``get_samples`` blocks, so a render is deterministic and many times faster than
real time.  FluidSynth's own reverb and chorus are off; the room is added afterwards (pedalboard),
which keeps every render independent of the previous one.
"""

from __future__ import annotations

import threading
from ctypes import c_float, c_int, c_void_p
from pathlib import Path
from typing import Any

import numpy as np

from promptloop.synthesis.score import Score

__all__ = ["FluidRenderer", "fluidsynth_missing"]

_GEN_VOLENV_ATTACK = 34  # SoundFont generator numbers (SF2.01 spec, section 8.1.3)
_GEN_FILTER_FC = 8


def _load() -> Any:
    import fluidsynth  # type: ignore[import-untyped]  # imports libfluidsynth through ctypes: raises ImportError when it is absent

    return fluidsynth


def fluidsynth_missing() -> str | None:
    """None when pyfluidsynth and libfluidsynth both load, else what to install."""
    try:
        _load()
    except ImportError as exc:
        return f"FluidSynth is not available ({exc}); install Debian's libfluidsynth3 (apt-get install libfluidsynth3)"
    except OSError as exc:
        return f"libfluidsynth failed to load: {exc}"
    return None


class FluidRenderer:
    """Renders :class:`Score` objects with one loaded SoundFont."""

    def __init__(self, soundfont: Path, sample_rate: int = 32000, polyphony: int = 64) -> None:
        fl = _load()
        self.sample_rate = sample_rate
        self._fl = fl
        self._synth = fl.Synth(
            gain=0.6,
            samplerate=float(sample_rate),
            **{
                "synth.reverb.active": 0,
                "synth.chorus.active": 0,
                "synth.polyphony": polyphony,
                "synth.dynamic-sample-loading": 1,
            },
        )
        self._sfid = self._synth.sfload(str(soundfont))
        if self._sfid < 0:
            raise ValueError(f"FluidSynth could not load the SoundFont {soundfont}")
        self._set_gen = fl.cfunc("fluid_synth_set_gen", c_int, ("synth", c_void_p, 1), ("chan", c_int, 1),
                                 ("param", c_int, 1), ("value", c_float, 1))
        self._lock = threading.Lock()

    def preset_name(self, program: int, drums: bool = False) -> str | None:
        name = self._synth.sfpreset_name(self._sfid, 128 if drums else 0, program)
        return str(name) if name else None

    def render(self, score: Score, *, soft_attack: bool = False, darken_cents: float = 0.0) -> np.ndarray:
        """Mono float32 audio of ``score`` (``score.duration_s`` long)."""
        sr = self.sample_rate
        total = int(round(score.duration_s * sr))
        with self._lock:
            s = self._synth
            s.system_reset()
            events: list[tuple[int, int, int, int, int]] = []  # (sample, order, kind, a, b) per channel
            for part in score.parts:
                ch = part.channel
                bank = 128 if part.drums else 0
                if s.program_select(ch, self._sfid, bank, part.program) != 0:
                    s.program_select(ch, self._sfid, bank, 0)
                s.cc(ch, 7, part.volume)
                s.cc(ch, 10, part.pan)
                if self._set_gen is not None:
                    self._set_gen(s.synth, ch, _GEN_VOLENV_ATTACK, (1200.0 if part.role == "harmony" else 4200.0) if soft_attack else 0.0)
                    self._set_gen(s.synth, ch, _GEN_FILTER_FC, float(darken_cents))
                for t, value in part.pedal:
                    events.append((int(t * sr), 1, 2, ch, value))
                for n in part.notes:
                    on = int(n.start * sr)
                    if on >= total:
                        continue
                    events.append((on, 2, 1, ch, n.pitch << 8 | n.velocity))
                    events.append((int(n.end * sr), 0, 0, ch, n.pitch))
            events.sort()
            blocks: list[np.ndarray] = []
            pos = 0
            for at, _, kind, ch, data in events:
                at = min(at, total)
                if at > pos:
                    blocks.append(s.get_samples(at - pos))
                    pos = at
                if pos >= total:
                    break
                if kind == 1:
                    s.noteon(ch, data >> 8, data & 0xFF)
                elif kind == 0:
                    s.noteoff(ch, data)
                else:
                    s.cc(ch, 64, data)
            if pos < total:
                blocks.append(s.get_samples(total - pos))
            s.system_reset()
        stereo = np.concatenate(blocks).astype(np.float32).reshape(-1, 2) if blocks else np.zeros((total, 2), np.float32)
        return (stereo.mean(axis=1) / 32768.0).astype(np.float32)

    def close(self) -> None:
        self._synth.delete()
