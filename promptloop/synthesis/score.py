"""A score: timed notes per instrument part, on a beat grid; written out as a standard MIDI file.

The score is what the SoundFont renderer plays and what ``session.mid`` holds, so the audio and the
MIDI file cannot disagree.  Times are seconds (after humanisation); the beat grid is kept so the MIDI
file carries the real tempo map and opens in a DAW with bars where the music has them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import mido
import numpy as np

__all__ = ["Note", "Part", "Score", "scores_to_midi", "to_midi"]

TICKS_PER_BEAT = 480
DRUM_CHANNEL = 9


@dataclass(frozen=True)
class Note:
    start: float  # seconds from the segment's start
    end: float
    pitch: int
    velocity: int


@dataclass
class Part:
    """One instrument on one MIDI channel."""

    instrument: str  # the vocabulary word ("harp"), also the MIDI track name
    program: int  # General MIDI program 0-127 (the kit number on the drum channel)
    channel: int
    role: str
    volume: int = 100  # CC7
    pan: int = 64  # CC10
    notes: list[Note] = field(default_factory=list)
    pedal: list[tuple[float, int]] = field(default_factory=list)  # (seconds, CC64 value)

    @property
    def drums(self) -> bool:
        return self.channel == DRUM_CHANNEL


@dataclass
class Score:
    parts: list[Part]
    beats: np.ndarray  # beat onset times in seconds, increasing, covering the whole segment
    duration_s: float
    key: str
    mode: str
    meter: int = 4

    def beat_at(self, seconds: np.ndarray | float) -> np.ndarray:
        """Fractional beat position of times (the grid extrapolated past its ends)."""
        b = self.beats
        idx = np.arange(b.size, dtype=np.float64)
        t = np.asarray(seconds, dtype=np.float64)
        inside = np.interp(t, b, idx)
        first = (b[1] - b[0]) if b.size > 1 else 0.5
        last = (b[-1] - b[-2]) if b.size > 1 else 0.5
        return np.where(t < b[0], (t - b[0]) / first, np.where(t > b[-1], idx[-1] + (t - b[-1]) / last, inside))


def _track(score: Score, offset_beats: float, part: Part) -> list[tuple[int, int, mido.Message]]:
    events: list[tuple[int, int, mido.Message]] = []
    ch = part.channel
    events.append((0, 0, mido.Message("program_change", channel=ch, program=part.program)))
    events.append((0, 1, mido.Message("control_change", channel=ch, control=7, value=part.volume)))
    events.append((0, 1, mido.Message("control_change", channel=ch, control=10, value=part.pan)))

    def tick(t: float) -> int:
        return max(0, int(round((float(score.beat_at(t)) + offset_beats) * TICKS_PER_BEAT)))

    for t, value in part.pedal:
        events.append((tick(t), 2, mido.Message("control_change", channel=ch, control=64, value=value)))
    for n in part.notes:
        on, off = tick(n.start), tick(min(n.end, score.duration_s))
        events.append((on, 3, mido.Message("note_on", channel=ch, note=n.pitch, velocity=n.velocity)))
        events.append((max(off, on + 1), 1, mido.Message("note_off", channel=ch, note=n.pitch, velocity=0)))
    return events


def _to_delta(events: list[tuple[int, int, mido.Message]], name: str) -> mido.MidiTrack:
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=name, time=0))
    now = 0
    for t, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=t - now))
        now = t
    return track


def scores_to_midi(scores: Sequence[Score], starts_s: Sequence[float]) -> bytes:
    """One type-1 MIDI file holding ``scores`` placed at ``starts_s`` (a whole session).

    Each segment keeps its own tempo map; where segments overlap (the crossfade), the later one's
    grid takes over at its start.
    """
    tempo_events: list[tuple[int, int, mido.MetaMessage]] = []
    per_instrument: dict[tuple[str, int], list[tuple[int, int, mido.Message]]] = {}
    offset = 0.0  # beats before the current segment
    for i, (score, start) in enumerate(zip(scores, starts_s, strict=True)):
        if i:
            prev, prev_start = scores[i - 1], starts_s[i - 1]
            offset += float(prev.beat_at(start - prev_start))
        beats = score.beats
        end_s = (starts_s[i + 1] - start) if i + 1 < len(scores) else score.duration_s
        for b in range(beats.size - 1):
            if beats[b] >= end_s:
                break
            micro = int(round((beats[b + 1] - beats[b]) * 1e6))
            tempo_events.append((int(round((b + offset) * TICKS_PER_BEAT)), 0,
                                 mido.MetaMessage("set_tempo", tempo=max(1, micro))))
        for part in score.parts:
            key = (part.instrument, part.channel)
            per_instrument.setdefault(key, []).extend(_track(score, offset, part))
    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor = _to_delta(tempo_events, "tempo")
    conductor.insert(1, mido.MetaMessage("time_signature", numerator=scores[0].meter if scores else 4,
                                         denominator=4, time=0))
    mid.tracks.append(conductor)
    for (name, _), events in per_instrument.items():
        mid.tracks.append(_to_delta(events, name))
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def to_midi(score: Score) -> bytes:
    """One segment's score as MIDI file bytes."""
    return scores_to_midi([score], [0.0])
