"""Playing a score through a General MIDI SoundFont with FluidSynth (pyfluidsynth + libfluidsynth).

The SoundFont is loaded once; every score is played by a fresh FluidSynth instance that borrows it
(creating one costs about a millisecond).  A long-lived instance is not repeatable: its voice pool
keeps each voice's last amplitude, so a note's first milliseconds depend on what was played before.
Events are applied between blocks of float output, so a render is sample-accurate, deterministic
and many times faster than real time.  FluidSynth's own reverb and chorus stay off; the room is
added afterwards (:mod:`promptloop.synthesis.soundfont.mixdown`).
"""

from __future__ import annotations

import contextlib
import io
import threading
from ctypes import c_float, c_int, c_void_p
from pathlib import Path
from typing import Any

import numpy as np

from promptloop.audio.transients import half_rise_s
from promptloop.synthesis.score import DRUM_CHANNEL, Note, Part, Score

__all__ = ["FluidRenderer", "fluidsynth_missing"]

_GEN_VOLENV_ATTACK = 34  # SoundFont generator numbers (SF2.01 specification, section 8.1.3)
_GEN_FILTER_FC = 8
_FLUID_WARN, _FLUID_INFO, _FLUID_DBG = 2, 3, 4  # log levels silenced (missing-preset chatter)
# Gentle mode.  Held chords: attacks ×2.  Every other part: each preset's attack is lengthened
# until its notes take at least GENTLE_HALF_RISE_S to reach half their peak, by at most ×128.  The
# offset is added to the preset's own attack (fluid_synth_set_gen), so one fixed factor means
# different attacks in different SoundFonts: at ×32 FluidR3's piano took 115 ms and slow music
# lost its pulse, while the test font's 1 ms piano took 35 ms and could still click.  Each preset
# is therefore measured once, on one rendered note (docs/soundfont.md, "Gentle attacks").
_HELD_CHORD_CENTS = 1200.0
GENTLE_HALF_RISE_S = 0.05
_GENTLE_MAX_CENTS = 8400.0  # ×128
_GENTLE_STEP_CENTS = 300.0  # ×1.19 per step
_PROBE_ONSET_S, _PROBE_PITCH, _PROBE_VELOCITY = 0.02, 60, 64


def _load() -> Any:
    # pyfluidsynth prints where it found the library to stdout when the CI variable is set; stdout
    # belongs to the CLI (tokens, JSON), so the import's chatter is kept out of it.
    with contextlib.redirect_stdout(io.StringIO()):
        import fluidsynth  # loads libfluidsynth via ctypes; ImportError if absent

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
        self._fl = fl
        self.sample_rate = sample_rate
        self.polyphony = polyphony
        cfunc = fl.cfunc
        self._set_gen = cfunc("fluid_synth_set_gen", c_int, ("synth", c_void_p, 1), ("chan", c_int, 1),
                              ("param", c_int, 1), ("value", c_float, 1))
        # Float output: pyfluidsynth's get_samples uses the 16-bit writer, which dithers (random
        # low bits, not repeatable) and quantises.
        self._write_float = cfunc("fluid_synth_write_float", c_int, ("synth", c_void_p, 1), ("len", c_int, 1),
                                  ("lout", c_void_p, 1), ("loff", c_int, 1), ("lincr", c_int, 1),
                                  ("rout", c_void_p, 1), ("roff", c_int, 1), ("rincr", c_int, 1))
        self._get_sfont = cfunc("fluid_synth_get_sfont_by_id", c_void_p, ("synth", c_void_p, 1), ("id", c_int, 1))
        self._add_sfont = cfunc("fluid_synth_add_sfont", c_int, ("synth", c_void_p, 1), ("sfont", c_void_p, 1))
        self._remove_sfont = cfunc("fluid_synth_remove_sfont", c_int, ("synth", c_void_p, 1), ("sfont", c_void_p, 1))
        set_log = cfunc("fluid_set_log_function", c_void_p, ("level", c_int, 1), ("fun", c_void_p, 1),
                        ("data", c_void_p, 1))
        for level in (_FLUID_WARN, _FLUID_INFO, _FLUID_DBG):
            set_log(level, None, None)
        self._owner = self._new_synth()
        sfid = self._owner.sfload(str(soundfont))
        if sfid < 0:
            raise ValueError(f"FluidSynth could not load the SoundFont {soundfont}")
        self._sfid = sfid
        self._sfont = self._get_sfont(self._owner.synth, sfid)
        self._lock = threading.Lock()
        self._gentle_cents: dict[tuple[int, bool], float] = {}

    def _new_synth(self) -> Any:
        return self._fl.Synth(gain=0.6, samplerate=float(self.sample_rate), channels=16, **{
            "synth.reverb.active": 0,
            "synth.chorus.active": 0,
            "synth.polyphony": self.polyphony,
        })

    def preset_name(self, program: int, drums: bool = False) -> str | None:
        """The SoundFont's name for a GM program (None when it has no such preset)."""
        name = self._owner.sfpreset_name(self._sfid, 128 if drums else 0, program)
        return str(name) if name else None

    def render(self, score: Score, *, soft_attack: bool = False, darken_cents: float = 0.0) -> np.ndarray:
        """Mono float32 audio of ``score``, exactly ``score.duration_s`` long.

        ``soft_attack`` lengthens every attack (gentle mode); ``darken_cents`` lowers each voice's
        filter cutoff (negative values darken)."""
        with self._lock:
            attacks = [self._soft_attack_cents(part) if soft_attack else 0.0 for part in score.parts]
            return self._render(score, attacks, darken_cents)

    def gentle_attack_cents(self, program: int, drums: bool = False) -> float:
        """The attack offset gentle mode gives this preset (timecents; 1200 doubles the attack)."""
        with self._lock:
            return self._gentle_attack_cents(program, drums)

    def _soft_attack_cents(self, part: Part) -> float:
        return _HELD_CHORD_CENTS if part.role == "harmony" else self._gentle_attack_cents(part.program, part.drums)

    def _program(self, program: int, drums: bool) -> int:
        """The program FluidSynth plays for ``program``: program 0 where the SoundFont lacks it."""
        return program if self.preset_name(program, drums) else 0

    def _gentle_attack_cents(self, program: int, drums: bool) -> float:
        program = self._program(program, drums)
        key = (program, drums)
        if key not in self._gentle_cents:
            channel = DRUM_CHANNEL if drums else 0
            note = Note(_PROBE_ONSET_S, _PROBE_ONSET_S + 0.5, _PROBE_PITCH, _PROBE_VELOCITY)
            probe = Score([Part("probe", program, channel, "melody", notes=[note])], np.zeros(1), 0.7, "C", "major")
            cents = 0.0
            while cents < _GENTLE_MAX_CENTS:
                audio = self._render(probe, [cents], 0.0)
                if half_rise_s(audio, self.sample_rate, _PROBE_ONSET_S) >= GENTLE_HALF_RISE_S:
                    break
                cents += _GENTLE_STEP_CENTS
            self._gentle_cents[key] = cents
        return self._gentle_cents[key]

    def _render(self, score: Score, attacks: list[float], darken_cents: float) -> np.ndarray:
        """One fresh FluidSynth plays ``score``; ``attacks`` holds each part's attack offset."""
        total = int(round(score.duration_s * self.sample_rate))
        synth = self._new_synth()
        sfid = self._add_sfont(synth.synth, self._sfont)
        try:
            return self._play(synth, sfid, score, total, attacks, darken_cents)
        finally:
            self._remove_sfont(synth.synth, self._sfont)  # the SoundFont stays with its owner
            synth.delete()

    def _play(self, synth: Any, sfid: int, score: Score, total: int, attacks: list[float],
              darken_cents: float) -> np.ndarray:
        sr = self.sample_rate
        events: list[tuple[int, int, int, int, int]] = []  # (sample, order, kind, channel, data)
        for part, attack in zip(score.parts, attacks, strict=True):
            ch = part.channel
            synth.program_select(ch, sfid, 128 if part.drums else 0, self._program(part.program, part.drums))
            synth.cc(ch, 7, part.volume)
            synth.cc(ch, 10, part.pan)
            self._set_gen(synth.synth, ch, _GEN_VOLENV_ATTACK, attack)
            self._set_gen(synth.synth, ch, _GEN_FILTER_FC, float(darken_cents))
            for t, value in part.pedal:
                events.append((int(t * sr), 1, 2, ch, value))
            for n in part.notes:
                on = int(n.start * sr)
                if on < total:
                    events.append((on, 2, 1, ch, n.pitch << 8 | n.velocity))
                    events.append((int(n.end * sr), 0, 0, ch, n.pitch))
        events.sort()
        stereo = np.zeros(2 * total, dtype=np.float32)  # interleaved L/R, written in place
        pos = 0
        for at, _, kind, ch, data in events:
            at = min(at, total)
            if at > pos:
                self._pull(synth, stereo, pos, at - pos)
                pos = at
            if pos >= total:
                break
            if kind == 1:
                synth.noteon(ch, data >> 8, data & 0xFF)
            elif kind == 0:
                synth.noteoff(ch, data)
            else:
                synth.cc(ch, 64, data)
        if pos < total:
            self._pull(synth, stereo, pos, total - pos)
        return stereo.reshape(-1, 2).mean(axis=1)  # the stereo pair averaged to mono

    def _pull(self, synth: Any, stereo: np.ndarray, pos: int, n: int) -> None:
        """Synthesise the next ``n`` frames into ``stereo`` from frame ``pos`` on."""
        self._write_float(synth.synth, n, stereo.ctypes.data, 2 * pos, 2, stereo.ctypes.data, 2 * pos + 1, 2)
