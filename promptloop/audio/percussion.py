"""Is there percussion in this audio?  What a listener who avoids drums must not hear.

Sharp attacks alone cannot answer it: a plucked guitar or a struck piano key attacks as fast as a
drum.  Counting sharp transients flagged every plucked-guitar segment of the core report as
"avoided percussion" while it found none of the synth's actual kick drum (issue 13).  Percussion is
*unpitched*, so two signatures of unpitched hits are counted instead:

* **thumps** (kick, toms): the 35–160 Hz band rises 12 dB within 40 ms and falls 10 dB within
  150 ms, standing within 8 dB of the whole mix.  A bass note rises as fast but sustains; a kick
  dies away.
* **noise bursts** (snare, hats, claps, shakers): a sharp attack (:func:`transient_times`) after
  which more than 60 % of the 2–12 kHz bins rise by 6 dB, that band holding at least 3 % of the
  frame's energy, and the energy it added is spectrally flat (flatness above 0.03).  A pitched
  attack adds energy at its partials: a sampled piano's hammer or a marimba's stroke in a quiet
  passage lifts most bins of the band too, but as peaks (flatness at most 0.02 over 48 such
  attacks of FluidR3 piano, piano + pads and marimba), where a snare, hat or clap adds noise
  (0.04–0.29 in FluidR3 kits over guitar, pads and piano).

Thresholds were set on the embedded synth (the flatness test on the SoundFont renders) (two seeds of 105 renders without drums: 7 pitched voices
× 5 textures × 3 tempo/density/dynamics settings, and 30 with drums) and checked on a noise-burst
snare laid over piano: no render without drums has more than one hit (bird chirps can make one);
every render where the synth's kick is not buried under a bass note on the same beat has three or
more; the snare gives one hit per stroke.
"""

from __future__ import annotations

import librosa
import numpy as np
import scipy.signal

from promptloop.audio.transients import transient_times

__all__ = ["noise_bursts", "percussive_hits", "thumps"]

_THUMP_BAND_HZ = (35.0, 160.0)
_THUMP_RISE_DB, _THUMP_FALL_DB, _THUMP_OVER_MIX_DB = 12.0, 10.0, -8.0
_NOISE_BAND_HZ = (2000.0, 12000.0)
_NOISE_RISE_DB, _NOISE_SHARE, _NOISE_MIN_SHARE = 6.0, 0.6, 0.03
_NOISE_FLATNESS = 0.03


def percussive_hits(audio: np.ndarray, sample_rate: int) -> int:
    """How many drum-like hits ``audio`` holds (thumps plus noise bursts)."""
    y = np.asarray(audio, dtype=np.float32)
    if y.size < sample_rate // 4 or not np.any(y):
        return 0
    return thumps(y, sample_rate) + noise_bursts(y, sample_rate)


def thumps(audio: np.ndarray, sample_rate: int) -> int:
    """Low-band bursts that rise and die away fast (kick drums, toms)."""
    sos = scipy.signal.butter(4, _THUMP_BAND_HZ, btype="bandpass", fs=sample_rate, output="sos")
    low = scipy.signal.sosfiltfilt(sos, audio.astype(np.float64))
    hop, frame = int(0.005 * sample_rate), int(0.02 * sample_rate)
    if audio.size < frame + hop:
        return 0
    low_db = 20 * np.log10(librosa.feature.rms(y=low, frame_length=frame, hop_length=hop, center=False)[0] + 1e-9)
    mix_db = 20 * np.log10(librosa.feature.rms(y=audio, frame_length=frame, hop_length=hop, center=False)[0] + 1e-9)
    floor = mix_db.max() - 30.0
    before, after = int(0.04 * sample_rate / hop), int(0.15 * sample_rate / hop)
    peaks, _ = scipy.signal.find_peaks(low_db, distance=max(1, int(0.1 * sample_rate / hop)))
    count = 0
    for p in peaks:
        if low_db[p] < floor or low_db[p] - mix_db[p] < _THUMP_OVER_MIX_DB:
            continue
        rise = low_db[p] - low_db[max(0, p - before): p + 1].min()
        fall = low_db[p] - low_db[p: p + after + 1].min()
        count += int(rise > _THUMP_RISE_DB and fall > _THUMP_FALL_DB)
    return count


def noise_bursts(audio: np.ndarray, sample_rate: int) -> int:
    """Sharp attacks whose added energy is noise, not harmonics (snare, hats, claps)."""
    n_fft, hop = 1024, 256
    mag = np.abs(librosa.stft(audio.astype(np.float32), n_fft=n_fft, hop_length=hop, center=False))
    freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=n_fft)
    band = (freqs > _NOISE_BAND_HZ[0]) & (freqs < min(_NOISE_BAND_HZ[1], 0.45 * sample_rate))
    count = 0
    for t in transient_times(audio, sample_rate):
        f = int(t * sample_rate / hop)
        lead = n_fft // hop  # the last frame that ends before the attack
        if f < lead or f + 1 >= mag.shape[1]:
            continue
        before, after = mag[band, f - lead] ** 2 + 1e-12, mag[band, f + 1] ** 2 + 1e-12
        rose = float(np.mean(10 * np.log10(after / before) > _NOISE_RISE_DB))
        audible = after.sum() > _NOISE_MIN_SHARE * float((mag[:, f + 1] ** 2).sum())
        added = np.maximum(after - before, 1e-12)
        flat = float(np.exp(np.mean(np.log(added))) / np.mean(added))  # spectral flatness of what the attack added
        count += int(rose > _NOISE_SHARE and audible and flat > _NOISE_FLATNESS)
    return count
