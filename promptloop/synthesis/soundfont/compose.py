"""The composer: a segment's plan becomes a score of phrases for the instruments the plan names.

Form: bars of 4/4 on a beat grid whose tempo glides from the previous segment's tempo to the plan's
(within about a bar and the first fifth of the segment; the glide's length lands the seam on a beat),
a chord progression in the plan's key and mode ending in a cadence on the tonic, which falls where
the next segment will begin (``tail_s`` before the end), so the seam lands on a downbeat; where the
planned tempo fits no whole number of beats there, the cadence comes up to a beat early and is held.
Voices: held chords voice-led from bar to bar, a bass line, a melody built from one motif (its seed
is the instrument list, so the motif survives segment boundaries), an accompaniment pattern whose
rhythmic density follows the plan, and drums when the plan asks for them.  Arousal shows in tempo,
density, velocity, register and drums; valence in mode, sevenths (warmth), register and articulation.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from promptloop.representation.plan import KEYS
from promptloop.representation.vocabulary import Voice
from promptloop.synthesis.score import DRUM_CHANNEL, Note, Part, Score
from promptloop.synthesis.tempo import beat_times, glide_beats

__all__ = ["MILD_VALENCE", "Composition", "beat_grid", "colour_of", "compose"]

_SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10), "mixolydian": (0, 2, 4, 5, 7, 9, 10)}
#: A major plan whose valence is below this is written in Mixolydian (the flat seventh): listeners
#: rank the modes' happiness Ionian > Mixolydian > Dorian > Aeolian (Temperley & Tan 2013), so a
#: mildly positive segment no longer sounds as bright as a strongly positive one.  Minor plans keep
#: the minor mode: a Dorian i-IV-i, tried for mild negative valence, was heard in the key of its IV
#: or as the tonic's major by the loop's estimator in short lively segments (docs/decisions.md).
MILD_VALENCE = 0.45
# Bars between the opening tonic and the cadence, as scale degrees (0 = tonic); the last bar is
# replaced by the cadence approach.  Built on the primary triads (I/i, IV/iv, V) so the mode is
# unmistakable: the relative key's own chords (III, VI, VII in minor; vi, ii in major) are what a
# short segment's one or two bars made sound like the relative key (C major plans measured minor,
# A minor plans major; docs/decisions.md).  Minor's V is always the harmonic-minor dominant.
_PROGRESSIONS = {
    "major": ((0, 3, 4, 0), (0, 4, 3, 4), (0, 3, 0, 4), (0, 5, 3, 4)),
    "minor": ((0, 3, 4, 0), (0, 4, 3, 4), (0, 3, 0, 4), (0, 5, 3, 4)),
    # Mixolydian leans on the chord that holds its flat seventh, as the mode's idiom does: bVII
    # (I-bVII-IV-I).  No dominant: V in Mixolydian is minor, and its major V would undo the colour.
    "mixolydian": ((0, 6, 3, 0), (0, 3, 6, 0), (0, 6, 0, 3), (0, 6, 3, 6)),
}
# The chord before the cadence's tonic, by colour and calm: plagal (IV) for calm major and minor
# music, the dominant otherwise; Mixolydian closes bVII-I either way.
_APPROACH = {("major", True): 3, ("major", False): 4, ("minor", True): 3, ("minor", False): 4,
             ("mixolydian", True): 6, ("mixolydian", False): 6}
_BASE_VELOCITY = {"pp": 40, "p": 52, "mp": 66, "mf": 82, "f": 100}
# Rhythm templates (onset beat, length in beats) for one 4/4 bar, by density class.
_RHYTHMS: tuple[tuple[tuple[tuple[float, float], ...], ...], ...] = (
    (((0, 2), (2, 2)), ((0, 3), (3, 1)), ((0, 4),)),
    (((0, 1), (1, 1), (2, 2)), ((0, 1.5), (1.5, 0.5), (2, 2)), ((0, 2), (2, 1), (3, 1))),
    (((0, 1), (1, 0.5), (1.5, 0.5), (2, 1), (3, 1)), ((0, 0.5), (0.5, 0.5), (1, 1), (2, 1.5), (3.5, 0.5))),
    (((0, 0.5), (0.5, 0.5), (1, 0.5), (1.5, 0.5), (2, 0.5), (2.5, 0.25), (2.75, 0.25), (3, 0.5), (3.5, 0.5)),
     ((0, 0.75), (0.75, 0.25), (1, 0.5), (1.5, 0.5), (2, 0.75), (2.75, 0.25), (3, 0.5), (3.5, 0.5))),
)


@dataclass(frozen=True)
class Composition:
    """What the composer reads from a plan (every field has a musical meaning)."""

    tempo_bpm: float
    key: str
    mode: str
    dynamics: str
    density: float
    brightness: float
    valence: float
    arousal: float
    gentle: bool = False


#: The most a segment's beat grid is stretched or squeezed to land its cadence on the seam: 5 %, 3 BPM
#: at 60, near the 2-5 % at which listeners begin to hear a tempo change (Drake & Botte 1993).  At 3 %
#: a fifth of the energetic segments (100-140 BPM) paused at the seam; at 5 %, one in fifty.
MAX_STRETCH = 0.05


def beat_grid(seconds: float, tempo: float, start_tempo: float, cadence_at: float) -> tuple[np.ndarray, int]:
    """Beat times (s) gliding from ``start_tempo`` to ``tempo`` (:func:`~promptloop.synthesis.tempo.beat_times`)
    and the index of the cadence's beat; the grid runs past ``seconds``.

    A beat must fall exactly at ``cadence_at`` (the seam).  Where the tempo changes, the glide is
    made up to half as long again or as short as one beat to put it there: the tempo change takes a
    little more or less time and the plan's tempo after it stays exact.  What the glide cannot
    absorb is taken by stretching the whole grid by at most :data:`MAX_STRETCH`; where that would
    take more, the tempo stays as planned and the cadence falls on the last beat before the seam,
    its chord held into it: a slow plan in a short segment has few beats, and fitting a whole number
    of them moved 56 BPM to 60 at 7 s.  (Stretching the whole grid alone played a segment that
    followed a tempo change up to 4 % off its plan: 120 BPM after 90 as 115.)
    """
    times = beat_times(seconds, tempo, start_tempo, extra_beats=16)
    at = _beat_at(times, cadence_at)
    if abs(tempo - start_tempo) >= 0.5:
        nominal = glide_beats(seconds, tempo, start_tempo)
        options = [(*_glide_landing(seconds, tempo, start_tempo, cadence_at, n, nominal), n)
                   for n in sorted({max(2, int(np.floor(at))), max(2, int(np.ceil(at)))})]
        # the smaller stretch; where both land on the seam (to a nanosecond), the glide nearer its usual length
        times, _, cadence = min(options, key=lambda o: (round(abs(cadence_at / o[0][o[2]] - 1.0), 9),
                                                        abs(o[1] - nominal)))
    else:
        cadence = max(2, int(round(at)))
    if abs(cadence_at / times[cadence] - 1.0) > MAX_STRETCH:
        cadence = max(2, int(np.floor(_beat_at(times, cadence_at))))
    # Squeezed regardless when even two beats overrun the seam (a segment of a few seconds).
    if abs(cadence_at / times[cadence] - 1.0) <= MAX_STRETCH or times[cadence] > cadence_at:
        times *= cadence_at / times[cadence]
    return times, cadence


def _beat_at(times: np.ndarray, when: float) -> float:
    """The (fractional) beat index at ``when`` seconds on a grid of beat times."""
    return float(np.interp(when, times, np.arange(times.size)))


def _glide_landing(seconds: float, tempo: float, start_tempo: float, cadence_at: float, cadence: int,
                   nominal: float) -> tuple[np.ndarray, float]:
    """The beat grid whose glide length (1 to 1.5 × ``nominal`` beats) puts beat ``cadence`` nearest
    ``cadence_at``, and that length.  The cadence's time moves monotonically with the glide's
    length, so a root finder (Brent's method) puts it there when both ends bracket the seam."""

    def grid(glide: float) -> np.ndarray:
        return beat_times(seconds, tempo, start_tempo, extra_beats=16, glide=glide)

    def miss(glide: float) -> float:
        return float(grid(glide)[cadence] - cadence_at)

    low, high = 1.0, max(1.0, 1.5 * nominal)
    ends = {low: grid(low), high: grid(high)}
    if (ends[low][cadence] - cadence_at) * (ends[high][cadence] - cadence_at) > 0:  # out of reach: the nearer end
        glide = min(ends, key=lambda g: abs(ends[g][cadence] - cadence_at))
        return ends[glide], glide
    glide = float(brentq(miss, low, high, xtol=1e-10))
    return grid(glide), glide


def colour_of(mode: str, valence: float) -> str:
    """The scale a plan of ``mode`` and ``valence`` is written in: its mode, or Mixolydian for a major
    plan of mild valence (:data:`MILD_VALENCE`)."""
    return "mixolydian" if mode == "major" and valence < MILD_VALENCE else mode


def _density_class(density: float) -> int:
    return 0 if density < 0.3 else 1 if density < 0.5 else 2 if density < 0.72 else 3


def _chord(degree: int, scale: Sequence[int], root_pc: int, mode: str, seventh: bool, dominant: bool) -> list[int]:
    """Pitch classes of the diatonic chord on ``degree`` (harmonic-minor V when ``dominant``)."""
    steps = (0, 2, 4, 6) if seventh else (0, 2, 4)
    pcs = [(root_pc + scale[(degree + s) % 7]) % 12 for s in steps]
    if dominant and mode == "minor" and degree == 4:
        pcs[1] = (pcs[1] + 1) % 12  # raised leading tone: a real dominant
    return pcs


def _voicing(pcs: Sequence[int], low: int, high: int, previous: list[int] | None, size: int) -> list[int]:
    """Close voicing of ``pcs`` within [low, high] that moves least from ``previous``."""
    best: list[int] | None = None
    best_cost = float("inf")
    center = (low + high) / 2
    for inversion in range(len(pcs)):
        order = list(pcs[inversion:]) + list(pcs[:inversion])
        while len(order) < size:
            order.append(order[len(order) - len(pcs)])
        for base in range(low, min(high, low + 12) + 1):
            if base % 12 != order[0]:
                continue
            notes = [base]
            for pc in order[1:size]:
                nxt = notes[-1] + 1
                while nxt % 12 != pc:
                    nxt += 1
                notes.append(nxt)
            for shift in (0, 12, 24):
                cand = [n + shift for n in notes]
                if cand[0] < low or cand[-1] > high:
                    continue
                if previous:
                    cost = float(sum(abs(a - b) for a, b in zip(sorted(cand), sorted(previous), strict=False)))
                else:
                    cost = abs(float(np.mean(cand)) - center)
                if cost < best_cost:
                    best, best_cost = cand, cost
    if best is None:  # range narrower than the chord: stack from the bottom anyway
        best = sorted({low + ((pc - low) % 12) for pc in pcs})[:size]
    return best


class _Builder:
    def __init__(self, c: Composition, voices: Sequence[Voice], seconds: float, seed: int,
                 start_tempo: float, tail_s: float, motif_seed: int) -> None:
        self.c = c
        self.rng = np.random.default_rng(seed)
        self.motif_rng = np.random.default_rng(motif_seed)
        self.seconds = seconds
        cadence_at = seconds - max(tail_s, 60.0 / c.tempo_bpm) if seconds > 3.0 else seconds * 0.75
        self.beats, self.cadence = beat_grid(seconds, c.tempo_bpm, start_tempo, cadence_at)
        self.colour = colour_of(c.mode, c.valence)
        self.scale = _SCALES[self.colour]
        self.root_pc = KEYS.index(c.key)
        self.dclass = _density_class(c.density)
        self.velocity = _BASE_VELOCITY.get(c.dynamics, 66)
        self.bars = [(b, min(b + 4, self.cadence)) for b in range(0, self.cadence, 4)]
        calm = c.arousal < 0
        prog_rng = self.motif_rng if calm else self.rng  # relaxation: the same progression every segment
        table = _PROGRESSIONS[self.colour]
        progression = table[int(prog_rng.integers(len(table)))]
        self.degrees = [progression[i % len(progression)] for i in range(len(self.bars))]
        if len(self.degrees) >= 2:
            self.degrees[-1] = _APPROACH[self.colour, calm]
            if self.degrees[-2] == self.degrees[-1]:
                # The approach chord twice running outweighs the tonic in a short segment (I-V-V-I
                # in C measured as G major, i-V-V-i in A minor as E major): the bar before returns home.
                self.degrees[-2] = 0
        # Triads only: sevenths (Cmaj7 holds an E minor triad) made major keys measure as their mediant's minor.
        self.seventh = False
        self.chords = [
            _chord(d, self.scale, self.root_pc, self.colour, self.seventh and d != 4, dominant=True)
            for d in self.degrees
        ]
        self.tonic = _chord(0, self.scale, self.root_pc, self.colour, False, False)
        self.voices = list(voices)
        self.legato = 1.0 if c.gentle else 0.98 if c.valence < -0.2 else 0.8 if c.valence > 0.3 else 0.9

    # -- time helpers --------------------------------------------------------------------------
    def t(self, beat: float) -> float:
        return float(np.interp(beat, np.arange(self.beats.size), self.beats))

    def vel(self, base: int, accent: float = 0.0) -> int:
        v = base + accent + self.rng.normal(0.0, 4.0)
        cap = 74 if self.c.gentle else 127
        return int(np.clip(round(v), 12, cap))

    def note(self, part: Part, beat: float, length: float, pitch: int, velocity: int, jitter: float = 0.006) -> None:
        start = max(0.0, self.t(beat) + (float(self.rng.normal(0.0, jitter)) if beat > 0 else 0.0))
        end = self.t(beat + length)
        if start >= self.seconds:
            return
        part.notes.append(Note(round(start, 5), round(max(end, start + 0.05), 5), int(pitch), velocity))

    # -- parts ---------------------------------------------------------------------------------
    def harmony(self, part: Part, voice: Voice) -> None:
        low = max(voice.low, 48 if self.c.brightness > 0.4 else 43)
        high = min(voice.high, low + 24)
        previous: list[int] | None = None
        size = 4 if self.seventh else 3
        for (start, end), pcs in zip(self.bars, self.chords, strict=True):
            chord = _voicing(pcs, low, high, previous, size)
            for pitch in chord:
                self.note(part, start, end - start + 0.25, pitch, self.vel(self.velocity - 12), jitter=0.0)
            previous = chord
        final = _voicing(self.tonic, low, high, previous, 3)
        for pitch in final:
            self.note(part, self.cadence, 16, pitch, self.vel(self.velocity - 14), jitter=0.0)

    def bass(self, part: Part, voice: Voice) -> None:
        low = max(voice.low, 33)
        def root(pcs: Sequence[int]) -> int:
            return low + ((pcs[0] - low) % 12)
        base = self.velocity - 4
        for i, ((start, end), pcs) in enumerate(zip(self.bars, self.chords, strict=True)):
            r = root(pcs)
            fifth = r + 7 if r + 7 <= voice.high else r - 5
            length = end - start
            if self.dclass == 0 or length < 2:
                self.note(part, start, length, r, self.vel(base, 6))
            elif self.dclass == 1:
                self.note(part, start, 2, r, self.vel(base, 6))
                self.note(part, start + 2, length - 2, fifth, self.vel(base))
            elif self.dclass == 2:
                self.note(part, start, 1.5, r, self.vel(base, 6))
                self.note(part, start + 1.5, 0.5, r, self.vel(base, -8))
                self.note(part, start + 2, 1, fifth, self.vel(base))
                if length > 3:
                    nxt = root(self.chords[i + 1]) if i + 1 < len(self.chords) else root(self.tonic)
                    approach = nxt + (1 if nxt > r else -1) * (2 if self.c.mode == "major" else 1)
                    self.note(part, start + 3, 1, approach, self.vel(base, -4))
            else:
                for k in range(int(length * 2)):
                    pitch = r + 12 if k % 2 and r + 12 <= voice.high else r
                    self.note(part, start + k / 2, 0.45, pitch, self.vel(base, 8 if k % 2 == 0 else -6))
        self.note(part, self.cadence, 16, root(self.tonic), self.vel(base, 4))

    def _scale_pitches(self, low: int, high: int, leading: bool) -> list[int]:
        pcs = {(self.root_pc + s) % 12 for s in self.scale}
        if leading and self.colour == "minor":
            pcs.add((self.root_pc + 11) % 12)
        return [p for p in range(low, high + 1) if p % 12 in pcs]

    def melody(self, part: Part, voice: Voice, *, level: int = 6) -> None:
        c = self.c
        center = 67 + round(5 * c.valence + 6 * (c.brightness - 0.5) + 4 * max(0.0, c.arousal))
        center = int(np.clip(center, voice.low + 7, voice.high - 9))
        low, high = center - 9, center + 9
        steps_p = [0.1, 0.4, 0.4, 0.1] if c.arousal < 0.3 else [0.2, 0.3, 0.3, 0.2]
        rhythms = _RHYTHMS[self.dclass]
        rhythm = rhythms[int(self.motif_rng.integers(len(rhythms)))]
        motif = list(self.motif_rng.choice([-2, -1, 1, 2], size=len(rhythm), p=steps_p))
        prev = center
        for i, ((start, end), pcs) in enumerate(zip(self.bars, self.chords, strict=True)):
            pitches = self._scale_pitches(low, high, leading=self.degrees[i] == 4)
            variant = i % 4
            steps = [-s for s in motif] if variant == 2 else motif
            for k, ((onset, length), step) in enumerate(zip(rhythm, steps, strict=True)):
                if start + onset >= end:
                    break
                length = min(length, end - (start + onset))
                if variant == 3 and k == len(rhythm) - 1:
                    continue  # a breath at the phrase end
                if onset in (0, 2):  # strong beats: the chord tone nearest the line's next step
                    goal = prev + 2 * int(step)
                    options = [p for p in range(low, high + 1) if p % 12 in pcs] or pitches
                    pitch = min(options, key=lambda p: (abs(p - goal), p))
                else:
                    idx = int(np.argmin([abs(p - prev) for p in pitches]))
                    idx = int(np.clip(idx + int(step), 0, len(pitches) - 1))
                    pitch = pitches[idx]
                accent = 8 if onset == 0 else 3 if onset == 2 else -4
                self.note(part, start + onset, length * self.legato, pitch, self.vel(self.velocity + level, accent))
                prev = pitch
        tonic_tones = [p for p in range(low, high + 1) if p % 12 in (self.tonic[0], self.tonic[1])]
        final = min(tonic_tones or [center], key=lambda p: abs(p - prev))
        self.note(part, self.cadence, 16, final, self.vel(self.velocity + level, 2))

    def accompaniment(self, part: Part, voice: Voice, melody_too: bool) -> None:
        c = self.c
        top = 67 + round(4 * c.valence + 5 * (c.brightness - 0.5)) - (10 if melody_too else 0)
        high = int(np.clip(top, voice.low + 12, voice.high))
        low = max(voice.low, high - 17)
        previous: list[int] | None = None
        base = self.velocity - 10
        plucked = voice.family in ("guitar", "strings", "world")
        for (start, end), pcs in zip(self.bars, self.chords, strict=True):
            chord = _voicing(pcs, low, high, previous, 3)
            previous = chord
            length = end - start
            pattern = [0, 1, 2, 1] if not plucked else [0, 2, 1, 2]
            per_beat = 1 if self.dclass <= 1 else 2
            if self.dclass == 3 and not plucked:
                for beat in range(int(length)):  # chords on the beat and the off-beat push
                    for off, acc in ((0.0, 4), (0.5, -6)):
                        if (beat + off) >= length:
                            continue
                        for pitch in chord:
                            self.note(part, start + beat + off, 0.4, pitch, self.vel(base, acc))
                continue
            steps = int(length * per_beat)
            for k in range(steps):
                pitch = chord[pattern[k % len(pattern)] % len(chord)]
                # Calm notes ring into the next.  Gentle ones (soft attacks) end short of it: a swell
                # ringing over the next note's start hides it, and slow gentle music lost its pulse.
                hold = (1.0 / per_beat) * (0.8 if c.gentle else 1.6 if c.arousal < 0 else 0.95)
                accent = 6 if k % (2 * per_beat) == 0 else 2 if k % per_beat == 0 else -10  # the beat stays audible
                self.note(part, start + k / per_beat, hold, pitch, self.vel(base, accent))
        final = _voicing(self.tonic, low, high, previous, 3)
        for j, pitch in enumerate(final):
            self.note(part, self.cadence + 0.06 * j, 16, pitch, self.vel(base, 2), jitter=0.0)

    def drums(self, part: Part, claps_only: bool) -> None:
        c, base = self.c, self.velocity
        kick, snare, hat, ride, crash, clap, stick, open_hat = 36, 38, 42, 51, 49, 39, 37, 46
        back = clap if claps_only else (snare if self.dclass >= 2 else stick)
        for bar, (start, end) in enumerate(self.bars):
            length = end - start
            for k in range(int(length * 4)):
                pos = k / 4
                beat, frac = int(pos), pos - int(pos)
                if self.dclass <= 1:
                    if not claps_only and frac == 0 and beat == 0:
                        self.note(part, start + pos, 0.25, kick, self.vel(base - 10, 4), 0.003)
                    if not claps_only and frac == 0:
                        self.note(part, start + pos, 0.25, ride, self.vel(base - 22, 2 if beat % 2 == 0 else -4), 0.003)
                    if beat == 3 and frac == 0:
                        self.note(part, start + pos, 0.25, back, self.vel(base - 14), 0.003)
                    continue
                if not claps_only and (frac == 0 and beat in (0, 2) or (self.dclass == 3 and pos == 1.5)):
                    self.note(part, start + pos, 0.25, kick, self.vel(base, 8), 0.003)
                if frac == 0 and beat in (1, 3):
                    self.note(part, start + pos, 0.25, back, self.vel(base, 6), 0.003)
                if not claps_only:
                    sixteenths = self.dclass == 3 and c.arousal > 0.5
                    if frac in (0.0, 0.5) or sixteenths:
                        pitch = open_hat if (pos == 3.5 and self.dclass == 3) else hat
                        self.note(part, start + pos, 0.25, pitch, self.vel(base - 12, 6 if frac == 0 else -8), 0.003)
            if bar == len(self.bars) - 1 and self.dclass == 3 and length >= 4 and not claps_only:
                for k in range(4):  # a fill into the cadence
                    self.note(part, start + 3 + k / 4, 0.25, snare, self.vel(base - 10 + 6 * k), 0.002)
        if not claps_only:
            self.note(part, self.cadence, 1, crash if self.dclass == 3 else ride, self.vel(base - 6), 0.0)
            self.note(part, self.cadence, 1, kick, self.vel(base - 4), 0.0)


def _roles(voices: Sequence[Voice]) -> dict[str, list[Voice]]:
    roles: dict[str, list[Voice]] = {"lead": [], "keys": [], "sustain": [], "bass": [], "drums": []}
    for v in voices:
        roles[v.role].append(v)
    return roles


def compose(
    c: Composition,
    voices: Sequence[Voice],
    seconds: float,
    seed: int,
    *,
    start_tempo: float | None = None,
    tail_s: float = 0.0,
    session_seed: int = 0,
) -> Score:
    """The score of one segment.  ``voices`` are played as named; none is added or dropped.

    The motif and (for calm music) the progression come from ``session_seed`` and the instruments,
    so they carry across a session's segments; ``seed`` varies the rest (candidates differ)."""
    motif_seed = zlib.crc32(",".join(v.name for v in voices).encode()) ^ (session_seed & 0xFFFFFFFF)
    b = _Builder(c, voices, seconds, seed, start_tempo or c.tempo_bpm, tail_s, motif_seed)
    roles = _roles(voices)
    parts: list[Part] = []
    channels = iter(ch for ch in range(16) if ch != DRUM_CHANNEL)

    def new_part(v: Voice, role: str, volume: int, pan: int) -> Part:
        if v.role == "drums":
            part = Part(v.name, 0 if c.arousal > 0 or v.name == "hand claps" else 40, DRUM_CHANNEL, role, volume, pan)
        else:
            part = Part(v.name, v.program, next(channels), role, volume, pan)
        parts.append(part)
        return part

    lead = roles["lead"][0] if roles["lead"] else None
    melody_on_keys = lead is None
    for i, v in enumerate(roles["lead"]):
        b.melody(new_part(v, "melody", 112 if i == 0 else 92, 64 + (0 if i == 0 else 24)), v, level=8 if i == 0 else -4)
    for i, v in enumerate(roles["keys"]):
        plays_melody = melody_on_keys and i == 0
        part = new_part(v, "melody+accompaniment" if plays_melody else "accompaniment", 108 if plays_melody else 92, 58 - 10 * i)
        if plays_melody:
            b.melody(part, v, level=10)
        b.accompaniment(part, v, melody_too=plays_melody)
    for i, v in enumerate(roles["sustain"]):
        part = new_part(v, "harmony", 84 if (lead or roles["keys"]) else 104, 72 + 10 * i)
        b.harmony(part, v)
        if not lead and not roles["keys"] and i == 0:
            b.melody(part, v, level=0)
    bass_voice = roles["bass"][0] if roles["bass"] else next(
        (v for v in (*roles["keys"], *roles["sustain"], *roles["lead"]) if v.low <= 40), None)
    if bass_voice is not None:
        b.bass(new_part(bass_voice, "bass", 96 if roles["bass"] else 80, 60), bass_voice)
    for v in roles["bass"][1:]:
        b.melody(new_part(v, "counter-melody", 80, 50), v, level=-6)
    drum_voices = roles["drums"]
    if drum_voices and not c.gentle:
        claps_only = all(v.name == "hand claps" for v in drum_voices)
        b.drums(new_part(drum_voices[0], "drums", 92, 64), claps_only)
        if not claps_only and any(v.name == "hand claps" for v in drum_voices):
            pass  # claps ride on the kit's backbeat below
    for part in parts:
        part.notes.sort(key=lambda n: n.start)
    return Score(parts=parts, beats=b.beats, duration_s=seconds, key=c.key, mode=c.mode)
