"""How often the tempo estimators hear a known tempo: the embedded renderer's plans and synthetic pulses.

Every clip is 6 s (the core suite's segment) and 8 s long. Renders (the label is the plan's tempo):
the rule planner's plans for valence -0.6, 0, 0.6 and arousal -0.9 to 0.9, plain and with
``Preferences(gentle=True)`` (soft attacks), 3 seeds each with the default generator, plus one
continuation per plan that glides in from the plan 0.4 arousal higher (as a session's later segments
do). Pulses (:func:`promptloop.evaluation.ground_truth.pulses`, no renderer): 14 tempi from 52 to
156 BPM, 3 attacks (plucked to padded), 1, 2 or 3 notes a beat.

For each set it prints how many readings fall within 8 % of the label for the harness's estimator
(metrical comb on the percussive onset envelope), librosa's single-lag estimate on the same envelope
(the harness's estimator until session 18) and the loop's (SuperFlux envelope, librosa's estimate).

    .venv/bin/python eval/tempo_reading.py
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np

VALENCES = (-0.6, 0.0, 0.6)
AROUSALS = (-0.9, -0.6, -0.3, 0.0, 0.3, 0.6, 0.9)
PULSE_BPM = tuple(float(b) for b in range(52, 164, 8))
ATTACKS_S = (0.005, 0.06, 0.15)
LENGTHS_S = (6.0, 8.0)


def renders(seconds: float) -> Iterator[tuple[str, float, np.ndarray, int]]:
    """(set, planned BPM, audio, sample rate) for every render."""
    from promptloop.acquisition.affect import Affect
    from promptloop.evaluation.run import build_harness_backends
    from promptloop.feedback.base import PlanContext
    from promptloop.representation.plan import MusicPlan
    from promptloop.representation.preferences import Preferences
    from promptloop.synthesis.base import GenerationRequest
    from promptloop.wiring.settings import Settings

    backends = build_harness_backends(Settings(), {"rule"})
    planner, generator = backends.planners["rule"], backends.generator
    sr = generator.sample_rate

    def plan_for(valence: float, arousal: float, segment: int, gentle: bool) -> MusicPlan:
        affect = Affect(valence, arousal)
        return planner.draft(PlanContext(segment_index=segment, segments=3, segment_seconds=seconds, waypoint=affect,
                                         listener=affect, target=affect, preferences=Preferences(gentle=gentle)))

    for gentle in (False, True):
        kind = "gentle" if gentle else "plain"
        for valence in VALENCES:
            for arousal in AROUSALS:
                plan = plan_for(valence, arousal, 2, gentle)
                requests = [GenerationRequest(plan=plan, duration_s=seconds, seed=s, session_seed=500 + s)
                            for s in range(3)]
                for audio in generator.generate(requests):
                    yield f"{seconds:.0f} s renders, {kind}", plan.tempo_bpm, audio, sr
                before = plan_for(valence, min(arousal + 0.4, 1.0), 1, gentle)
                if before.tempo_bpm == plan.tempo_bpm:
                    continue
                (first,) = generator.generate([GenerationRequest(plan=before, duration_s=seconds, seed=7,
                                                                 session_seed=700)])
                (audio,) = generator.generate([GenerationRequest(plan=plan, duration_s=seconds, seed=8,
                                                                 prior=first[-4 * sr:], prior_plan=before,
                                                                 tail_s=1.0, session_seed=700)])
                yield f"{seconds:.0f} s glided in, {kind}", plan.tempo_bpm, audio, sr


def synthetic(seconds: float) -> Iterator[tuple[str, float, np.ndarray, int]]:
    from promptloop.evaluation.ground_truth import pulses

    sr = 32000
    for subdivision in (1, 2, 3):
        for attack in ATTACKS_S:
            for bpm in PULSE_BPM:
                tonic = 110.0 * 2 ** ((bpm % 12) / 12)
                yield (f"{seconds:.0f} s pulses, {subdivision} a beat", bpm,
                       pulses(bpm, attack_s=attack, subdivision=subdivision, seconds=seconds, tonic_hz=tonic,
                              sample_rate=sr), sr)


def main() -> int:
    import librosa

    from promptloop.audio.analysis import measure
    from promptloop.evaluation.metrics import low_band_split, measure_cues

    if sys.argv[1:]:
        print("usage: eval/tempo_reading.py (no arguments)", file=sys.stderr)
        return 2
    counts: dict[str, list[int]] = {}
    clips = (clip for seconds in LENGTHS_S for source in (renders, synthetic) for clip in source(seconds))
    for name, bpm, audio, sr in clips:
        _, env = low_band_split(np.abs(librosa.stft(audio, n_fft=2048, hop_length=512)), sr)
        single_lag = float(librosa.feature.tempo(onset_envelope=env, sr=sr, hop_length=512, start_bpm=90.0)[0])
        readings = (measure_cues(audio, sr).tempo_bpm, single_lag, measure(audio, sr).tempo_bpm)
        row = counts.setdefault(name, [0, 0, 0, 0])
        row[0] += 1
        for i, heard in enumerate(readings, start=1):
            row[i] += abs(heard / bpm - 1) < 0.08
    print(f"{'within 8 % of the label':32} {'clips':>5} {'harness':>8} {'single-lag':>10} {'loop':>5}")
    for name, (n, comb, single, loop) in counts.items():
        print(f"{name:32} {n:5d} {comb:8d} {single:10d} {loop:5d}")
    total = np.sum(list(counts.values()), axis=0)
    print(f"{'all':32} {total[0]:5d} {total[1]:8d} {total[2]:10d} {total[3]:5d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
