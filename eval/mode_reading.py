"""How often the embedded renderer's music is heard in the key and mode its plan asks for.

Drafts the rule planner's plan for every affect word whose valence calls for a mode (|valence| >= 0.2),
renders it with the default generator for 4 seeds at 6 s and 10 s, and prints the share of renders
whose mode the harness's estimator (Temperley profiles) and the loop's (Krumhansl-Kessler on CQT
chroma) read as planned, and the share the loop reads in the planned key too. ``--synthetic`` instead reads
576 additive-synth cadences of known key and mode, made without the SoundFont or the planner
(I-IV-V-I and i-iv-V-i on 12 tonics, the bass in octave 2 or 3, chord tones at 4 levels under it,
3 timbres), and prints the share the harness's estimator reads in their mode. ``--modal`` reads the
harness's modal-colour estimator the same way, on cadences in the four church modes it tells apart and
in harmonic minor (heard as Aeolian), and prints the share named right per mode.

    .venv/bin/python eval/mode_reading.py
    .venv/bin/python eval/mode_reading.py --synthetic
    .venv/bin/python eval/mode_reading.py --modal
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

_SR = 32000


def _cadences(modes: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    from itertools import product

    from promptloop.evaluation.ground_truth import cadence

    for bass_octave, chord_level, rolloff, tonic, mode in product((2, 3), (0.1, 0.2, 0.35, 0.5), (1.0, 2.0, 3.0),
                                                                  range(12), modes):
        yield mode, cadence(tonic, mode, bass_octave=bass_octave, chord_level=chord_level, rolloff=rolloff,
                            sample_rate=_SR)


def synthetic() -> int:
    from promptloop.evaluation.metrics import measure_cues

    right = clips = 0
    for mode, audio in _cadences(("major", "minor")):
        right += measure_cues(audio, _SR).mode == mode
        clips += 1
    print(f"synthetic cadences {clips}: harness mode {right / clips:.3f} ({right} right)")
    return 0


def modal() -> int:
    from promptloop.evaluation.metrics import measure_cues
    from promptloop.synthesis.soundfont.compose import colour_of

    heard: dict[str, Counter[str]] = {}
    for mode, audio in _cadences(("ionian", "mixolydian", "dorian", "aeolian", "minor")):
        heard.setdefault(mode, Counter())[measure_cues(audio, _SR).modal_colour] += 1
    _print_heard("synthetic cadences", heard)
    heard = {}
    for plan, audio, sample_rate in _renders(words=None):
        written = colour_of(plan.mode, plan.target_valence)
        heard.setdefault(written, Counter())[measure_cues(audio, sample_rate).modal_colour] += 1
    _print_heard("renders of every affect word's plan (4 seeds x 6 s and 10 s)", heard)
    return 0


_HEARD_AS = {"major": "ionian", "minor": "aeolian"}


def _print_heard(title: str, heard: dict[str, Counter[str]]) -> None:
    print(title)
    for mode, names in heard.items():
        truth = _HEARD_AS.get(mode, mode)
        print(f"  {mode:<11} {names[truth]:>3} of {sum(names.values())} named {truth}; "
              + ", ".join(f"{n} {k or 'none'}" for k, n in names.most_common() if k != truth))


def _renders(words: list[str] | None) -> Iterator[tuple[Any, Any, int]]:
    """(plan, audio, sample rate) for the rule planner's plan of each word (all words for None), 4 seeds
    at 6 s and 10 s, rendered by the default generator."""
    from promptloop.acquisition.affect import AFFECT_WORDS
    from promptloop.evaluation.run import build_harness_backends
    from promptloop.feedback.base import PlanContext
    from promptloop.representation.preferences import Preferences
    from promptloop.synthesis.base import GenerationRequest
    from promptloop.wiring.settings import Settings

    backends = build_harness_backends(Settings(), {"rule"})
    planner, generator = backends.planners["rule"], backends.generator
    for seconds in (6.0, 10.0):
        for word in words if words is not None else sorted(AFFECT_WORDS):
            affect = AFFECT_WORDS[word]
            plan = planner.draft(PlanContext(segment_index=2, segments=3, segment_seconds=seconds, waypoint=affect,
                                             listener=affect, target=affect, preferences=Preferences()))
            requests = [GenerationRequest(plan=plan, duration_s=seconds, seed=s, session_seed=100 + s) for s in range(4)]
            for audio in generator.generate(requests):
                yield plan, audio, generator.sample_rate


def main() -> int:
    if sys.argv[1:] == ["--synthetic"]:
        return synthetic()
    if sys.argv[1:] == ["--modal"]:
        return modal()
    if sys.argv[1:]:
        print("usage: eval/mode_reading.py [--synthetic | --modal]", file=sys.stderr)
        return 2
    from promptloop.acquisition.affect import AFFECT_WORDS
    from promptloop.audio.analysis import measure
    from promptloop.evaluation.metrics import measure_cues

    words = [w for w in sorted(AFFECT_WORDS) if abs(AFFECT_WORDS[w].valence) >= 0.2]
    harness = loop = key = renders = 0
    for plan, audio, sample_rate in _renders(words):
        cues, heard = measure_cues(audio, sample_rate), measure(audio, sample_rate)
        renders += 1
        harness += cues.mode == plan.mode
        loop += heard.mode == plan.mode
        key += heard.key == plan.key and heard.mode == plan.mode
    print(f"renders {renders} ({len(words)} words x 4 seeds x 2 lengths): "
          f"harness mode {harness / renders:.3f}, loop mode {loop / renders:.3f}, loop key and mode {key / renders:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
