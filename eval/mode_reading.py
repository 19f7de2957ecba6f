"""How often the embedded renderer's music is heard in the key and mode its plan asks for.

Drafts the rule planner's plan for every affect word whose valence calls for a mode (|valence| >= 0.2),
renders it with the default generator for 4 seeds at 6 s and 10 s, and prints the share of renders
whose mode the harness's estimator (Temperley profiles) and the loop's (Krumhansl-Kessler on CQT
chroma) read as planned, and the share the loop reads in the planned key too. ``--synthetic`` instead reads
576 additive-synth cadences of known key and mode, made without the SoundFont or the planner
(I-IV-V-I and i-iv-V-i on 12 tonics, the bass in octave 2 or 3, chord tones at 4 levels under it,
3 timbres), and prints the share the harness's estimator reads in their mode.

    .venv/bin/python eval/mode_reading.py
    .venv/bin/python eval/mode_reading.py --synthetic
"""

from __future__ import annotations

import sys


def synthetic() -> int:
    from promptloop.evaluation.ground_truth import cadence
    from promptloop.evaluation.metrics import measure_cues

    sr, right, clips = 32000, 0, 0
    for bass_octave in (2, 3):
        for chord_level in (0.1, 0.2, 0.35, 0.5):
            for rolloff in (1.0, 2.0, 3.0):
                for tonic in range(12):
                    for mode in ("major", "minor"):
                        audio = cadence(tonic, mode, bass_octave=bass_octave, chord_level=chord_level,
                                        rolloff=rolloff, sample_rate=sr)
                        right += measure_cues(audio, sr).mode == mode
                        clips += 1
    print(f"synthetic cadences {clips}: harness mode {right / clips:.3f} ({right} right)")
    return 0


def main() -> int:
    if sys.argv[1:] == ["--synthetic"]:
        return synthetic()
    if sys.argv[1:]:
        print("usage: eval/mode_reading.py [--synthetic]", file=sys.stderr)
        return 2
    from promptloop.acquisition.affect import AFFECT_WORDS
    from promptloop.audio.analysis import measure
    from promptloop.evaluation.metrics import measure_cues
    from promptloop.evaluation.run import build_harness_backends
    from promptloop.feedback.base import PlanContext
    from promptloop.representation.preferences import Preferences
    from promptloop.synthesis.base import GenerationRequest
    from promptloop.wiring.settings import Settings

    backends = build_harness_backends(Settings(), {"rule"})
    planner, generator = backends.planners["rule"], backends.generator
    words = [w for w in sorted(AFFECT_WORDS) if abs(AFFECT_WORDS[w].valence) >= 0.2]
    harness = loop = key = renders = 0
    for seconds in (6.0, 10.0):
        for word in words:
            affect = AFFECT_WORDS[word]
            plan = planner.draft(PlanContext(segment_index=2, segments=3, segment_seconds=seconds, waypoint=affect,
                                             listener=affect, target=affect, preferences=Preferences()))
            requests = [GenerationRequest(plan=plan, duration_s=seconds, seed=s, session_seed=100 + s) for s in range(4)]
            for audio in generator.generate(requests):
                cues, heard = measure_cues(audio, generator.sample_rate), measure(audio, generator.sample_rate)
                renders += 1
                harness += cues.mode == plan.mode
                loop += heard.mode == plan.mode
                key += heard.key == plan.key and heard.mode == plan.mode
    print(f"renders {renders} ({len(words)} words x 4 seeds x 2 lengths, {generator.name}): "
          f"harness mode {harness / renders:.3f}, loop mode {loop / renders:.3f}, loop key and mode {key / renders:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
