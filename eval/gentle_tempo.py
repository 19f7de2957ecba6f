"""Whether gentle music keeps its pulse and stays free of sharp attacks on the embedded renderer.

Drafts the rule planner's gentle plan for every affect word, renders it with the harness's generator
(or the SoundFont named by ``--soundfont``) for ``--seeds`` seeds at 6 s and 10 s, and prints the
share of renders whose tempo the harness's estimator (``measure_cues``, percussive onsets) and the
loop's (``audio.analysis.measure``) put within 10 BPM of the plan, and the number of sharp transients.

    .venv/bin/python eval/gentle_tempo.py              # 190 renders (5 seeds)
    .venv/bin/python eval/gentle_tempo.py --seeds 2    # 76 renders
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per plan and length (default 5)")
    parser.add_argument("--soundfont", type=Path, default=None, help="an .sf2 file instead of the harness's")
    args = parser.parse_args()

    from promptloop.acquisition.affect import AFFECT_WORDS
    from promptloop.audio.analysis import measure
    from promptloop.evaluation.metrics import measure_cues
    from promptloop.evaluation.run import build_harness_backends
    from promptloop.feedback.base import PlanContext
    from promptloop.representation.preferences import Preferences
    from promptloop.synthesis.base import GenerationRequest
    from promptloop.synthesis.soundfont import SoundFontGenerator
    from promptloop.wiring.settings import Settings

    backends = build_harness_backends(Settings(), {"rule"})
    planner = backends.planners["rule"]
    generator = SoundFontGenerator(args.soundfont, use_embeddings=False) if args.soundfont else backends.generator
    renders = harness = loop = transients = 0
    for word in sorted(AFFECT_WORDS):
        affect = AFFECT_WORDS[word]
        plan = planner.draft(PlanContext(segment_index=2, segments=3, segment_seconds=6.0, waypoint=affect,
                                         listener=affect, target=affect, preferences=Preferences(gentle=True)))
        requests = [GenerationRequest(plan=plan, duration_s=seconds, seed=s, session_seed=100 + s)
                    for s in range(args.seeds) for seconds in (6.0, 10.0)]
        for audio in generator.generate(requests):
            cues, heard = measure_cues(audio, generator.sample_rate), measure(audio, generator.sample_rate)
            renders += 1
            harness += abs(cues.tempo_bpm - plan.tempo_bpm) <= 10
            loop += abs(heard.tempo_bpm - plan.tempo_bpm) <= 10
            transients += cues.sharp_transients
    print(f"renders {renders} ({len(AFFECT_WORDS)} words x {args.seeds} seeds x 2 lengths, {generator.describe()}): "
          f"tempo within 10 BPM: harness {harness} ({harness / renders:.2f}), loop {loop} ({loop / renders:.2f}); "
          f"sharp transients {transients}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
