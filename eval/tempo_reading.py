"""How often the tempo estimators hear the embedded renderer's planned tempo, with and without gentle mode.

Drafts the rule planner's plan for calm affects (valence 0.4; arousal -0.7, -0.5, -0.3: 66-78 BPM),
plain and with ``Preferences(gentle=True)`` (soft attacks), renders each for 6 seeds at 6 s with the
default generator (a fresh render: no tempo glide from a prior segment), and prints the share that
the harness's estimator (percussive-component onset envelope) and the loop's (SuperFlux) measure
within 8 % of the plan.

    .venv/bin/python eval/tempo_reading.py
"""

from __future__ import annotations

import sys


def main() -> int:
    from promptloop.acquisition.affect import Affect
    from promptloop.audio.analysis import measure
    from promptloop.evaluation.metrics import measure_cues
    from promptloop.evaluation.run import build_harness_backends
    from promptloop.feedback.base import PlanContext
    from promptloop.representation.preferences import Preferences
    from promptloop.synthesis.base import GenerationRequest
    from promptloop.wiring.settings import Settings

    backends = build_harness_backends(Settings(), {"rule"})
    planner, generator = backends.planners["rule"], backends.generator
    sr = generator.sample_rate
    for gentle in (False, True):
        prefs = Preferences(gentle=gentle)
        harness = loop = renders = 0
        for arousal in (-0.7, -0.5, -0.3):
            affect = Affect(0.4, arousal)
            plan = planner.draft(PlanContext(segment_index=2, segments=3, segment_seconds=6.0, waypoint=affect,
                                             listener=affect, target=affect, preferences=prefs))
            requests = [GenerationRequest(plan=plan, duration_s=6.0, seed=s, session_seed=300 + s) for s in range(6)]
            for audio in generator.generate(requests):
                renders += 1
                harness += abs(measure_cues(audio, sr).tempo_bpm / plan.tempo_bpm - 1) < 0.08
                loop += abs(measure(audio, sr).tempo_bpm / plan.tempo_bpm - 1) < 0.08
        print(f"{'gentle' if gentle else 'plain '} renders {renders}: harness within 8 % {harness}, loop {loop}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
