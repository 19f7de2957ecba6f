"""Metrics the harness computes on what a session actually rendered.

The **independent check** (:func:`literature_check`) is the one the loop does not optimise: it
measures tempo, loudness, brightness and mode with its own estimators (:func:`measure_cues`: a
metrical comb over the percussive component's onset autocorrelation and Temperley's key profiles,
not the loop's SuperFlux envelope with librosa's tempo estimate and Krumhansl–Kessler profiles) and
scores them against fixed ranges that the affect–music literature associates with the reference
affect (docs/evaluation.md gives the sources and the ranges).  It shares only the loudness meter
(ITU-R BS.1770) with the loop.

The rest: trajectory error along the iso path, constraint violations, seam quality, diversity
between segments.

>>> ranges = expected_ranges(Affect(0.4, -0.6), loudness_ceiling=-14.0)
>>> ranges["tempo_bpm"]
(50.0, 80.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import librosa
import numpy as np

from promptloop.acquisition.affect import Affect
from promptloop.audio.analysis import (
    detect_clicks,
    high_frequency_ratio,
    sharp_transients,
)
from promptloop.audio.mix import integrated_lufs
from promptloop.audio.percussion import percussive_hits
from promptloop.errors import ConstraintViolation
from promptloop.representation.plan_checks import (
    AUDIO_LIMITS,
    audio_violations,
    check_prompt,
)
from promptloop.representation.preferences import Preferences

__all__ = [
    "CUE_TOLERANCE",
    "Cues",
    "LOUDNESS_TOLERANCE_LU",
    "MODAL_VALENCE",
    "SeamQuality",
    "arousal_level",
    "constraint_violations",
    "diversity",
    "expected_ranges",
    "literature_check",
    "measure_cues",
    "modal_colour",
    "seam_quality",
    "trajectory_error",
]

_HOP = 512
_N_FFT = 2048
# Temperley (1999) key profiles ("What's key for key?"), distinct from the loop's Krumhansl–Kessler.
_T_MAJOR = np.array([5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0])
_T_MINOR = np.array([5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0])


def _swapped(profile: np.ndarray, *pairs: tuple[int, int]) -> np.ndarray:
    out = profile.copy()
    for a, b in pairs:
        out[[a, b]] = out[[b, a]]
    return out


#: The church modes the harness tells apart, brightest first, and the valence each carries for the
#: digital twin.  The third decides the sign: modes with a major third are heard as happier than
#: those with a minor one (Bostwick, Seror & Neill 2018); within each, happiness falls with each degree
#: lowered from Ionian (Temperley & Tan 2013: Ionian > Mixolydian > Dorian > Aeolian).  The quarter
#: per degree is ours.
MODAL_VALENCE = {"ionian": 1.0, "mixolydian": 0.75, "dorian": -0.75, "aeolian": -1.0}
# Temperley's profiles with the degrees that tell each mode from its neighbours exchanged: the flat
# seventh for Mixolydian and Aeolian, the natural sixth for Dorian.  The harmonic minor (the unaltered
# minor profile) is heard as Aeolian: both have the flat sixth.
_MODAL_PROFILES = {
    "ionian": _T_MAJOR,
    "mixolydian": _swapped(_T_MAJOR, (10, 11)),
    "dorian": _swapped(_T_MINOR, (10, 11), (8, 9)),
    "aeolian": _swapped(_T_MINOR, (10, 11)),
    "harmonic minor": _T_MINOR,
}
_CQT_FMIN_MIDI, _CQT_BINS_PER_SEMITONE = 24, 3  # C1, a third of a semitone per bin
# The bass register (each frame's lowest prominent bin in it is the bass note) and where the harmony above it starts.
_BASS_TOP_MIDI, _UPPER_FROM_MIDI = 50, 48
_BASS_NOTE_SHARE, _BASS_VOTE = 0.25, 0.2
_BASS_PARTIALS = (5, 7)  # removed from the harmony's chroma: a major third and a flat seventh above the bass
# Tempo candidates (BPM), the beat multiples the comb sums, and its log-normal preference for
# moderate tempi: at one octave from 90 BPM a candidate needs 0.15 more mean autocorrelation (on a
# 6 s clip the autocorrelation at four beats of 90 BPM has lost 45 % to the shorter overlap alone).
_TEMPO_GRID = np.arange(40.0, 200.0, 0.5)
_COMB_BEATS = np.arange(1, 5)
_TEMPO_CENTRE_BPM, _TEMPO_PRIOR_WEIGHT = 90.0, 0.3

# Arousal levels: below LOW is low arousal, above HIGH is high, between is moderate.
AROUSAL_LOW, AROUSAL_HIGH = -0.33, 0.33
# Valence this close to zero does not call for a mode.
VALENCE_NEUTRAL = 0.15
# Cue ranges per arousal level (operational numbers for the literature's directions; see docs).
_TEMPO = {"low": (50.0, 80.0), "moderate": (75.0, 110.0), "high": (105.0, 160.0)}
_LOUDNESS = {"low": (-40.0, -24.0), "moderate": (-28.0, -18.0), "high": (-21.0, -10.0)}
_CENTROID = {"low": (200.0, 1400.0), "moderate": (900.0, 2200.0), "high": (1500.0, 4000.0)}
#: How far outside a range a cue may fall before its score reaches 0 (linear in between).
CUE_TOLERANCE = {"tempo_bpm": 20.0, "loudness_lufs": 6.0, "centroid_hz": 600.0}
#: Measurement tolerance for the loudness ceiling.
LOUDNESS_TOLERANCE_LU = AUDIO_LIMITS["loudness_lu"]


@dataclass(frozen=True)
class Cues:
    """The independent measurement of one segment."""

    tempo_bpm: float
    loudness_lufs: float
    centroid_hz: float
    mode: str
    mode_strength: float  # best major minus best minor Temperley correlation
    high_freq_ratio: float
    sharp_transients: int
    percussive_hits: int = 0
    #: The church mode heard (a key of :data:`MODAL_VALENCE`); "" where the clip is too short to tell.
    modal_colour: str = ""

    def to_dict(self) -> dict[str, float | int | str]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def measure_cues(audio: np.ndarray, sample_rate: int) -> Cues:
    """Tempo (metrical comb on the percussive component, HPSS), loudness, median centroid, mode
    (Temperley profiles on a constant-Q chroma)."""
    y = np.asarray(audio, dtype=np.float32)
    if y.size < sample_rate // 4 or not np.any(y):
        return Cues(0.0, integrated_lufs(y, sample_rate), 0.0, "major", 0.0, 0.0, 0)
    mag = np.abs(librosa.stft(y, n_fft=_N_FFT, hop_length=_HOP))
    harmonic_band, env = low_band_split(mag, sample_rate)
    tempo = _comb_tempo(env, sample_rate / _HOP)
    centroid = librosa.feature.spectral_centroid(S=mag, sr=sample_rate)[0]
    frame_rms = np.sqrt(np.mean(mag**2, axis=0))
    audible = centroid[frame_rms > frame_rms.max() * 0.05] if frame_rms.max() > 0 else centroid
    cqt = _harmonic_cqt(y, sample_rate)
    mode, strength = _mode(_harmonic_chroma(sample_rate, harmonic_band, cqt))
    return Cues(
        tempo_bpm=tempo,
        loudness_lufs=integrated_lufs(y, sample_rate),
        centroid_hz=float(np.median(audible)) if audible.size else 0.0,
        mode=mode,
        mode_strength=strength,
        high_freq_ratio=high_frequency_ratio((mag**2).sum(axis=1), sample_rate),
        sharp_transients=sharp_transients(y, sample_rate),
        percussive_hits=percussive_hits(y, sample_rate),
        modal_colour=modal_colour(cqt) if cqt is not None else "",
    )


def low_band_split(mag: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The harmonic part of an STFT magnitude's band below 3 kHz, and its percussive part's onset envelope.

    Median-filter HPSS (Fitzgerald 2010) on the band where bass, chord and drum attacks live: on synth
    renders at seven known tempi it measured as many within 8 % as the full band (16 of 21) at an eighth
    of the cost (docs/evaluation.md).
    """
    band = int(3000 / (sample_rate / _N_FFT)) + 1
    harmonic_band, percussive = librosa.decompose.hpss(mag[:band], kernel_size=31)
    env = librosa.onset.onset_strength(S=librosa.amplitude_to_db(percussive, ref=np.max), sr=sample_rate,
                                       hop_length=_HOP)
    return harmonic_band, env


def _comb_tempo(env: np.ndarray, frames_per_s: float) -> float:
    """The tempo whose beat period and its next three multiples carry the most onset autocorrelation.

    A single-lag estimate (librosa's, with its prior near 90 BPM) read soft-attack music at 59-69 BPM
    as 87-101 and 124 BPM plans as 85, wherever a sub-beat pattern peaked near the prior; summing the
    autocorrelation over 1-4 beats favours the period the music keeps repeating.  Within 8 % of the
    label (``eval/tempo_reading.py``, 6 s and 8 s clips): 336 of 336 renders of the rule planner's
    plans (librosa's: 270) and 181 of 252 synthetic pulses (134); its misses are slow beats with
    notes between them read at the notes' rate (docs/decisions.md).
    """
    if env.size < 2 or not np.any(env):
        return 0.0
    ac = librosa.autocorrelate(env - env.mean())
    if ac[0] <= 0:
        return 0.0
    lags = 60.0 * frames_per_s / _TEMPO_GRID
    at_multiples = np.interp(np.outer(_COMB_BEATS, lags), np.arange(ac.size), ac / ac[0], right=np.nan)
    fits = ~np.isnan(at_multiples[0])  # the beat itself is shorter than the clip; later multiples may not be
    support = np.full(lags.shape, -np.inf)
    support[fits] = np.nanmean(at_multiples[:, fits], axis=0)
    score = support - _TEMPO_PRIOR_WEIGHT * 0.5 * np.log2(_TEMPO_GRID / _TEMPO_CENTRE_BPM) ** 2
    return float(_TEMPO_GRID[int(np.argmax(score))])


def _harmonic_cqt(y: np.ndarray, sample_rate: int) -> np.ndarray | None:
    """The harmonic part of a constant-Q magnitude (C1 up, a third of a semitone per bin, HPSS along the
    bins); None for clips under 2.5 s, too short for the lowest octave's filters."""
    if y.size < 2.5 * sample_rate:
        return None
    fmin = float(librosa.midi_to_hz(_CQT_FMIN_MIDI))
    octaves = min(7, int(np.floor(np.log2(sample_rate / 2 / fmin))))
    per_octave = 12 * _CQT_BINS_PER_SEMITONE
    cqt = np.abs(librosa.cqt(y, sr=sample_rate, hop_length=_HOP, fmin=fmin, n_bins=per_octave * octaves,
                             bins_per_octave=per_octave, tuning=0.0))
    harmonic, _ = librosa.decompose.hpss(cqt, kernel_size=31)
    return np.asarray(harmonic)


def _harmonic_chroma(sample_rate: int, harmonic_band: np.ndarray, cqt: np.ndarray | None) -> np.ndarray:
    """Mean chroma of the harmonic constant-Q spectrum ``cqt`` (:func:`_harmonic_cqt`).

    The bass carries the tonic, and an STFT of 2048 points at 32 kHz cannot tell its semitones apart
    (15.6 Hz bins against 6.5 Hz between A2 and B♭2). On the embedded renders the STFT chroma named the
    planned mode in 72 %, this one in 96 % (docs/evaluation.md). Clips too short for the constant-Q
    filters keep the chroma of the STFT's harmonic band (``harmonic_band``: HPSS below 3 kHz of the
    2048-point STFT).
    """
    if cqt is None:
        power = np.zeros((1 + _N_FFT // 2, harmonic_band.shape[1]), dtype=harmonic_band.dtype)
        power[:len(harmonic_band)] = harmonic_band**2
        return librosa.feature.chroma_stft(S=power, sr=sample_rate).mean(axis=1)
    per_octave = 12 * _CQT_BINS_PER_SEMITONE
    return librosa.feature.chroma_cqt(C=cqt, sr=sample_rate, hop_length=_HOP,
                                      fmin=float(librosa.midi_to_hz(_CQT_FMIN_MIDI)), bins_per_octave=per_octave,
                                      n_octaves=cqt.shape[0] // per_octave).mean(axis=1)


def _bin_pitch_classes(first_midi: int, bins: int) -> np.ndarray:
    return (first_midi + np.round(np.arange(bins) / _CQT_BINS_PER_SEMITONE).astype(int)) % 12


def modal_colour(cqt: np.ndarray) -> str:
    """The church mode of a harmonic constant-Q magnitude (:func:`_harmonic_cqt`): a key of :data:`MODAL_VALENCE`.

    Modes that share their notes (C Mixolydian and F Ionian, D Dorian and C Ionian) differ in their
    tonic, which key profiles alone do not find reliably, so the bass votes: each frame's lowest
    prominent note below D3 (a local peak at a quarter or more of that register's loudest bin),
    summed by pitch class and weighted by level.  The mode and tonic are the modal profile
    (Temperley's, its telling degrees exchanged) and rotation that best fit the chroma of the harmony
    from C3 up, plus :data:`_BASS_VOTE` times the tonic's share of the bass's votes against the
    commonest bass note.  The bass's fifth and seventh partials (a major third and a flat seventh
    above it, two octaves up) are removed from that chroma first: under quiet chords they outweigh
    the chords' own minor third or natural seventh.  Validated on additive cadences of known mode
    and on the composer's renders (``eval/mode_reading.py --modal``; docs/evaluation.md).
    """
    bass_bins = (_BASS_TOP_MIDI - _CQT_FMIN_MIDI) * _CQT_BINS_PER_SEMITONE
    bass = cqt[:bass_bins]
    level = bass.max(axis=0)
    if level.max() <= 0:
        return ""
    peaks = np.zeros(bass.shape, dtype=bool)
    peaks[1:-1] = (bass[1:-1] >= bass[:-2]) & (bass[1:-1] >= bass[2:])
    prominent = peaks & (bass >= _BASS_NOTE_SHARE * level)
    note = np.argmax(prominent, axis=0)
    sounding = np.flatnonzero((level > 0.1 * level.max()) & prominent.any(axis=0))
    if sounding.size == 0:
        return ""
    votes = np.bincount(_bin_pitch_classes(_CQT_FMIN_MIDI, bass_bins)[note[sounding]], weights=level[sounding],
                        minlength=12)
    upper = cqt.copy()
    for k in _BASS_PARTIALS:
        partial = note[sounding] + int(round(12 * _CQT_BINS_PER_SEMITONE * np.log2(k)))
        for offset in (-1, 0, 1):
            inside = (partial + offset >= 0) & (partial + offset < upper.shape[0])
            upper[partial[inside] + offset, sounding[inside]] = 0.0
    start = (_UPPER_FROM_MIDI - _CQT_FMIN_MIDI) * _CQT_BINS_PER_SEMITONE
    chroma = np.bincount(_bin_pitch_classes(_UPPER_FROM_MIDI, upper.shape[0] - start),
                         weights=upper[start:].sum(axis=1), minlength=12)
    if np.ptp(chroma) == 0:
        return ""
    vote = votes / votes.max()
    fits = {(name, tonic): np.corrcoef(np.roll(profile, tonic), chroma)[0, 1] + _BASS_VOTE * vote[tonic]
            for name, profile in _MODAL_PROFILES.items() for tonic in range(12)}
    best, _ = max(fits, key=fits.__getitem__)
    return "aeolian" if best == "harmonic minor" else best


def _mode(chroma: np.ndarray) -> tuple[str, float]:
    if not np.any(chroma) or np.ptp(chroma) == 0:
        return "major", 0.0
    major = max(np.corrcoef(np.roll(_T_MAJOR, k), chroma)[0, 1] for k in range(12))
    minor = max(np.corrcoef(np.roll(_T_MINOR, k), chroma)[0, 1] for k in range(12))
    diff = float(major - minor)
    return ("major" if diff >= 0 else "minor"), diff


def arousal_level(arousal: float) -> str:
    if arousal < AROUSAL_LOW:
        return "low"
    if arousal > AROUSAL_HIGH:
        return "high"
    return "moderate"


def expected_ranges(affect: Affect, loudness_ceiling: float) -> dict[str, tuple[float, float]]:
    """Tempo, loudness and centroid ranges for music expressing ``affect``.

    The loudness range never reaches above the listener's ceiling: a quieter-than-the-literature
    segment that respects the ceiling is what the listener asked for, so it is not penalised.
    """
    level = arousal_level(affect.arousal)
    low, high = _LOUDNESS[level]
    high = min(high, loudness_ceiling + LOUDNESS_TOLERANCE_LU)
    low = min(low, high - 6.0)
    return {"tempo_bpm": _TEMPO[level], "loudness_lufs": (low, high), "centroid_hz": _CENTROID[level]}


def expected_mode(affect: Affect) -> str | None:
    """``major`` for positive valence, ``minor`` for negative, None near neutral."""
    if abs(affect.valence) < VALENCE_NEUTRAL:
        return None
    return "major" if affect.valence > 0 else "minor"


def _graded(value: float, bounds: tuple[float, float], tolerance: float) -> float:
    low, high = bounds
    outside = max(low - value, value - high, 0.0)
    return float(max(0.0, 1.0 - outside / tolerance))


def literature_check(cues: Cues, affect: Affect, loudness_ceiling: float) -> dict[str, float]:
    """Per-cue agreement in [0, 1] with the literature's ranges for ``affect``, and their mean.

    Tempo, loudness and centroid score 1 inside their range and fall linearly to 0 at
    :data:`CUE_TOLERANCE` outside it; mode scores 1 when it matches the sign of valence (always 1
    near neutral valence).
    """
    ranges = expected_ranges(affect, loudness_ceiling)
    scores = {
        name: _graded(float(getattr(cues, name)), ranges[name], CUE_TOLERANCE[name])
        for name in ("tempo_bpm", "loudness_lufs", "centroid_hz")
    }
    wanted = expected_mode(affect)
    scores["mode"] = 1.0 if wanted is None or cues.mode == wanted else 0.0
    scores["overall"] = float(np.mean(list(scores.values())))
    return {k: round(v, 4) for k, v in scores.items()}


def trajectory_error(reference: Sequence[Affect], estimated: Sequence[Affect]) -> float:
    """Mean circumplex distance between the iso path and the affect each segment measured as."""
    if len(reference) != len(estimated) or not reference:
        raise ValueError("trajectory_error needs two equally long, non-empty paths")
    return float(np.mean([r.distance(e) for r, e in zip(reference, estimated, strict=True)]))


def constraint_violations(cues: Cues, preferences: Preferences, prompts: Sequence[str]) -> list[str]:
    """What broke the listener's constraints, measured on the audio (and the prompts that made it).

    * ``avoided-prompt``: a prompt names an avoided sound (aliases count);
    * the audio-level kinds of :func:`promptloop.representation.plan_checks.audio_violations`
      (the same check the loop's evaluator applies): ``loudness`` over the ceiling (+0.5 LU),
      ``gentle-transients`` (any sharp attack in gentle mode), ``avoided-percussion`` (more than
      one drum-like hit while drums or percussion are avoided: plucked and struck notes are not
      drums), ``avoided-sudden``, ``gentle-highs`` and ``avoided-high`` (energy above 4 kHz).

    Avoided instruments other than percussion are only checked in the prompts: telling a piano
    from a guitar in the audio would need a trained tagger, which the harness does not have.
    """
    found = [v.kind for v in audio_violations(cues, preferences)]
    for prompt in prompts:
        try:
            check_prompt(prompt, preferences.forbidden)
        except ConstraintViolation:
            found.insert(0, "avoided-prompt")
            break
    return found


@dataclass(frozen=True)
class SeamQuality:
    time_s: float
    clicks: int  # discontinuities within 50 ms of the crossfade
    level_jump_db: float  # |RMS level after the crossfade - before it|


def _rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-12))


def _content_clicks(sources: Sequence[tuple[float, np.ndarray]], sample_rate: int, lo: int, hi: int) -> np.ndarray:
    """Click times (s, session clock) that the unstitched segments already had in [lo, hi)."""
    found = []
    for start_s, audio in sources:
        offset = int(round(start_s * sample_rate))
        a, b = max(0, lo - offset), min(audio.size, hi - offset)
        if b > a:
            found.append(detect_clicks(audio[a:b], sample_rate) + (a + offset) / sample_rate)
    return np.concatenate(found) if found else np.zeros(0)


def seam_quality(audio: np.ndarray, sample_rate: int, seam_starts: Sequence[float],
                 crossfade_seconds: float, window_seconds: float = 0.5,
                 sources: Sequence[tuple[float, np.ndarray]] = ()) -> list[SeamQuality]:
    """Clicks in and around each crossfade, and the level step across it.

    ``seam_starts`` are where each crossfade begins in ``audio`` (a segment's ``start_s``).
    ``sources`` are the unstitched segments as (start_s, audio): a click within 3 ms of one the
    segment already had (a drum hit, a bell) is the music's, not the seam's, and is not counted.
    """
    out = []
    win = int(window_seconds * sample_rate)
    for start in seam_starts:
        a = int(round(start * sample_rate))
        b = a + int(round(crossfade_seconds * sample_rate))
        lo, hi = max(0, a - int(0.05 * sample_rate)), min(audio.size, b + int(0.05 * sample_rate))
        clicks = 0
        if hi > lo:
            stitched = detect_clicks(audio[lo:hi], sample_rate) + lo / sample_rate
            own = _content_clicks(sources, sample_rate, lo, hi)
            clicks = int(sum(1 for t in stitched if not np.any(np.abs(own - t) < 0.003)))
        before, after = audio[max(0, a - win):a], audio[b:b + win]
        jump = abs(_rms_db(after) - _rms_db(before)) if before.size and after.size else 0.0
        out.append(SeamQuality(round(start, 4), clicks, round(jump, 3)))
    return out


def diversity(segments: Sequence[np.ndarray], sample_rate: int) -> float:
    """Mean pairwise cosine distance between segments' mean MFCC vectors (timbre), in [0, 2].

    0 means every segment has the same average timbre; session-long sameness is what listeners
    call monotony, while large jumps can also be unwelcome, so this is reported, not scored.
    """
    if len(segments) < 2:
        return 0.0
    vectors = []
    for seg in segments:
        mfcc = librosa.feature.mfcc(y=np.asarray(seg, dtype=np.float32), sr=sample_rate, n_mfcc=20)
        vectors.append(mfcc[1:].mean(axis=1))  # drop c0 (overall level): loudness is scored apart
    v = np.stack(vectors)
    v = v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-12)
    sims = v @ v.T
    i, j = np.triu_indices(len(segments), k=1)
    return float(np.mean(1.0 - sims[i, j]))
