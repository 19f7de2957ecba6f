"""The iterative loop: plan → generate K candidates → evaluate → keep the best → retry with a
rewritten prompt when under the threshold → stitch with an equal-power crossfade, loudness
normalisation and a safety limiter → record provenance.

The loop receives ready backend objects (see :mod:`promptloop.wiring.builders`) and never reads settings
or the environment.  :class:`LoopSession` produces one segment at a time so that the CLI, the
server and the chat can all drive it; :func:`run_session` runs a whole session.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from promptloop._version import __version__
from promptloop.acquisition.affect import Affect
from promptloop.audio.mix import (
    crossfade_append,
    integrated_lufs,
    level_glide,
    normalize_loudness,
    safety_limit,
)
from promptloop.audio.repair import remove_violations
from promptloop.errors import ConstraintViolation, GenerationError, InputError
from promptloop.feedback.base import Evaluation, Evaluator, PlanContext, Planner
from promptloop.representation.plan import DYNAMICS_LUFS, MusicPlan
from promptloop.representation.plan_checks import (
    AUDIO_LIMITS,
    HEADROOM_LU,
    audio_violations,
    enforce_constraints,
    tempo_range_note,
)
from promptloop.representation.preferences import Preferences
from promptloop.representation.trajectory import PathPace, path_pace
from promptloop.session.defaults import LIMITS
from promptloop.session.pacing import IsoPacer, PaceContext, Pacer, Waypoint
from promptloop.session.provenance import (
    AffectRecord,
    AttemptRecord,
    CandidateRecord,
    PacingRecord,
    SegmentRecord,
    SessionRecord,
    SessionSummary,
)
from promptloop.session.spec import SessionSpec, with_prior
from promptloop.synthesis.base import GenerationRequest, Generator
from promptloop.synthesis.score import Score, scores_to_midi

__all__ = ["LIMITS", "SELF_REPORTS", "LoopSession", "SegmentResult", "SessionSpec", "run_session", "with_prior"]

#: Sources of a listener estimate that are the listener's own word on how they feel (the chat), as
#: opposed to an estimate from readings or a model; a closed-loop pacer takes them as a measurement.
SELF_REPORTS = frozenset({"chat"})

PEAK_CEILING_DB = -1.0
#: A segment planned louder or quieter than the last one eases to its level over this long (at most
#: half the segment), starting from the last one's level, instead of stepping at the seam.
LEVEL_GLIDE_SECONDS = 3.0


@dataclass
class SegmentResult:
    """One finished segment: its audio (as chosen, before stitching) and its record."""

    audio: np.ndarray
    record: SegmentRecord
    score: Score | None = None  # the notes, when the generator composes (written as MIDI)


def seed_for(seed: int, segment: int, attempt: int, candidate: int) -> int:
    """A distinct, reproducible seed per (session seed, segment, attempt, candidate)."""
    return int(np.random.SeedSequence([seed, segment, attempt, candidate]).generate_state(1)[0])


def _affect(a: Affect) -> AffectRecord:
    return AffectRecord(valence=round(a.valence, 4), arousal=round(a.arousal, 4))


Event = Callable[[str, dict[str, Any]], None]


class LoopSession:
    """A session in progress; :meth:`next_segment` adds one segment."""

    def __init__(
        self,
        spec: SessionSpec,
        generator: Generator,
        planner: Planner,
        evaluator: Evaluator,
        *,
        fallback_planner: Planner | None = None,
        on_event: Event | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.spec = spec
        self.pacer = pacer or IsoPacer()
        self.generator = generator
        self.planner = planner
        self.evaluator = evaluator
        self.fallback_planner = fallback_planner
        self.on_event = on_event or (lambda kind, payload: None)
        self.sample_rate = generator.sample_rate
        self.audio = np.zeros(0, dtype=np.float32)
        self.retries_skipped = 0
        self.results: list[SegmentResult] = []
        self.listener = spec.start
        self.target = spec.target
        self.preferences = spec.preferences
        self._listener_fresh = True
        self._reported: Affect | None = None  # the listener's own report since the last segment
        self._pending_events: list[dict[str, Any]] = []
        self._last_waypoint: Affect | None = None
        self._last_plan: MusicPlan | None = None
        self._started = time.perf_counter()
        self._created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")

    # -- updates between segments (biofeedback, chat) ------------------------------------------
    def update_listener(self, affect: Affect, source: str) -> None:
        """A new estimate of the listener's state; the next segment meets it (iso principle)."""
        self.listener = affect
        self._listener_fresh = True
        if source in SELF_REPORTS:
            self._reported = affect
        self._pending_events.append({"kind": "listener", "source": source, **affect.to_dict()})

    def take_report(self) -> Affect | None:
        """The listener's own report of how they feel since the last segment (once: it is cleared)."""
        reported, self._reported = self._reported, None
        return reported

    def update_target(self, affect: Affect, source: str) -> None:
        self.target = affect
        self._pending_events.append({"kind": "target", "source": source, **affect.to_dict()})

    def update_preferences(self, preferences: Preferences, source: str) -> None:
        self.preferences = preferences
        self._pending_events.append({"kind": "preferences", "source": source})

    @property
    def done(self) -> bool:
        return len(self.results) >= self.spec.segments

    # -- saving and resuming between segments (the server keeps sessions across restarts) -------
    def between_segments(self) -> dict[str, Any]:
        """The state that updates changed since the last segment, as JSON-ready data."""
        return {
            "listener": self.listener.to_dict(),
            "target": self.target.to_dict(),
            "preferences": self.preferences.to_dict(),
            "listener_fresh": self._listener_fresh,
            "reported": None if self._reported is None else self._reported.to_dict(),
            "pending_events": list(self._pending_events),
        }

    def resume(self, results: list[SegmentResult], audio: np.ndarray, state: dict[str, Any]) -> None:
        """Continue a saved session: its finished segments, the stitched audio so far and the
        :meth:`between_segments` state.  The next segment follows on from the last one."""
        self.results = list(results)
        self.audio = np.asarray(audio, dtype=np.float32)
        self.listener = Affect(**state["listener"])
        self.target = Affect(**state["target"])
        self.preferences = Preferences.from_dict(state["preferences"])
        self._listener_fresh = bool(state["listener_fresh"])
        reported = state.get("reported")  # absent in states saved before self-reports were kept
        self._reported = None if reported is None else Affect(**reported)
        self._pending_events = list(state["pending_events"])
        if self.results:
            last = self.results[-1].record
            self._last_waypoint = Affect(last.waypoint.valence, last.waypoint.arousal)
            self._last_plan = MusicPlan.model_validate(last.attempts[last.chosen_attempt].plan)

    # -- one segment ---------------------------------------------------------------------------
    def _waypoint(self, index: int) -> Waypoint:
        return self.pacer.next_waypoint(PaceContext(
            index=index, segments=self.spec.segments, start=self.spec.start, listener=self.listener,
            listener_fresh=self._listener_fresh, target=self.target, comfortable_step=self.spec.max_step,
            previous=self._last_waypoint, history=tuple(r.record for r in self.results),
        ))

    def pace(self) -> PathPace:
        """How steep the path from the start to the (current) target is for this session."""
        return path_pace(self.spec.start, self.target, self.spec.segments, self.spec.max_step)

    def _checked_plan(self, make: Callable[[Planner], MusicPlan], context: PlanContext) -> tuple[MusicPlan, str | None]:
        """Ask the planner; a plan that breaks the listener's constraints is replaced."""
        try:
            plan = make(self.planner)
            if not isinstance(plan, MusicPlan):  # a misbehaving planner is an outage, not a crash
                raise GenerationError(f"planner {self.planner.name!r} returned {type(plan).__name__}, not a plan")
            plan, _ = enforce_constraints(plan, context.preferences)
            return plan, None
        except ConstraintViolation as exc:
            reason = f"constraint: {exc}"
        except GenerationError as exc:
            reason = f"planner error: {exc}"
        if self.fallback_planner is None:
            raise GenerationError(f"planner {self.planner.name!r} failed and no fallback is set: {reason}")
        plan, _ = enforce_constraints(make(self.fallback_planner), context.preferences)
        return plan, reason

    def _prior_tail(self) -> np.ndarray | None:
        source = self.audio if self.audio.size else self.spec.prior
        if source is None or source.size == 0:
            return None
        return source[-int(self.generator.prior_seconds * self.sample_rate) :]

    def _target_lufs(self, plan: MusicPlan) -> float:
        return min(DYNAMICS_LUFS[plan.dynamics], self.preferences.loudness_ceiling_lufs - HEADROOM_LU)

    def _glide_from_last(self, audio: np.ndarray, plan: MusicPlan) -> np.ndarray:
        """The chosen segment beginning at the last segment's level and easing to its own.

        The last level is taken under the listener's ceiling *now*: after "too loud" the new segment
        starts no louder than the new ceiling allows, so the drop the listener asked for is heard at
        the seam and only the rest of a planned change is eased.
        """
        if self._last_plan is None or not self.audio.size:
            return audio
        step = self._target_lufs(self._last_plan) - self._target_lufs(plan)
        if abs(step) < 0.5:
            return audio
        seconds = min(LEVEL_GLIDE_SECONDS, 0.5 * audio.size / self.sample_rate)
        return safety_limit(level_glide(audio, self.sample_rate, step, seconds), self.sample_rate, PEAK_CEILING_DB)

    def next_segment(self) -> SegmentResult:
        if self.done:
            raise InputError("the session already has all its segments")
        spec, index = self.spec, len(self.results)
        placed = self._waypoint(index)
        waypoint = placed.affect
        context = PlanContext(
            segment_index=index,
            segments=spec.segments,
            segment_seconds=spec.segment_seconds,
            waypoint=waypoint,
            listener=self.listener,
            target=self.target,
            preferences=self.preferences,
            previous_plan=self._last_plan,
            max_step=spec.max_step,
        )
        self.on_event("segment_start", {"index": index, "waypoint": waypoint.to_dict(), "steep": placed.steep})
        overlap = spec.crossfade_seconds if self.audio.size else 0.0
        prior = self._prior_tail()

        attempts: list[AttemptRecord] = []
        best_audio: np.ndarray | None = None
        best_eval: Evaluation | None = None
        best_where = (0, 0)
        best_request: GenerationRequest | None = None
        t0 = time.perf_counter()
        plan, fallback = self._checked_plan(lambda p: p.draft(context), context)
        plan_time = time.perf_counter() - t0
        for attempt in range(spec.max_retries + 1):
            seeds = [seed_for(spec.seed, index, attempt, k) for k in range(spec.candidates)]
            requests = [
                GenerationRequest(plan, spec.segment_seconds + overlap, s, prior, self._last_plan,
                                  tail_s=spec.crossfade_seconds, session_seed=spec.seed)
                for s in seeds
            ]
            t1 = time.perf_counter()
            raw = self.generator.generate(requests)
            t2 = time.perf_counter()
            if len(raw) != len(requests):
                raise GenerationError(f"generator {self.generator.name!r} returned {len(raw)} clips for {len(requests)} requests")
            candidates, evaluations = [], []
            for audio in raw:
                audio = np.asarray(audio, dtype=np.float32)
                if audio.ndim != 1 or audio.size == 0 or not np.all(np.isfinite(audio)):
                    raise GenerationError(f"generator {self.generator.name!r} returned unusable audio")
                audio = self._fit_length(audio, spec.segment_seconds + overlap)
                audio = safety_limit(normalize_loudness(audio, self.sample_rate, self._target_lufs(plan)),
                                     self.sample_rate, PEAK_CEILING_DB)
                candidates.append(audio)
                evaluations.append(self.evaluator.evaluate(audio, self.sample_rate, plan, context))
            t3 = time.perf_counter()
            best = max(range(len(evaluations)), key=lambda i: _rank(evaluations[i]))
            attempts.append(AttemptRecord(
                attempt=attempt,
                planner=self.planner.name if fallback is None else f"{self.fallback_planner.name} (fallback)",  # type: ignore[union-attr]
                fallback=fallback,
                plan=plan.model_dump(mode="json"),
                prompt=plan.prompt,
                candidates=[
                    CandidateRecord(seed=s, score=e.score, components=e.components,
                                    descriptors=e.descriptors.to_dict(), estimated=_affect(e.estimated),
                                    caption=e.caption, violations=list(e.violations))
                    for s, e in zip(seeds, evaluations, strict=True)
                ],
                best=best,
                feedback=[f.to_dict() for f in evaluations[best].feedback],
                timings={"plan": round(plan_time, 4), "generate": round(t2 - t1, 4), "evaluate": round(t3 - t2, 4)},
            ))
            self.on_event("attempt", {"index": index, "attempt": attempt, "score": evaluations[best].score})
            if best_eval is None or _rank(evaluations[best]) > _rank(best_eval):
                best_eval, best_audio, best_where = evaluations[best], candidates[best], (attempt, best)
                best_request = requests[best]
            # A listener's constraint is not traded for score: a candidate that breaks one never ends
            # the retries, however well it scores.
            if (best_eval.score >= spec.threshold and not best_eval.violations) or attempt == spec.max_retries:
                break
            t0 = time.perf_counter()
            last, last_eval = plan, evaluations[best]
            plan, fallback = self._checked_plan(lambda p: p.revise(last, last_eval, context), context)  # noqa: B023  (called at once)
            plan_time = time.perf_counter() - t0
            if spec.skip_seed_only_retries and _same_music(plan, last):  # the seed-only retry gate (docs/evaluation.md, "Retries")
                self.retries_skipped += 1
                self.on_event("attempt_skipped", {"index": index, "attempt": attempt + 1,
                                                  "reason": "the rewrite changed nothing: new seeds only"})
                break

        assert best_audio is not None and best_eval is not None
        chosen_attempt, chosen_index = best_where
        chosen_plan = MusicPlan.model_validate(attempts[chosen_attempt].plan)
        if best_eval.violations:
            best_audio, best_eval = self._repair(best_audio, best_eval, chosen_plan, context)
        score = self.generator.score_for(best_request) if best_request is not None else None
        best_audio = self._glide_from_last(best_audio, chosen_plan)
        start_s = max(0.0, self.audio.size / self.sample_rate - overlap)
        if self.audio.size:
            self.audio = crossfade_append(self.audio, best_audio, self.sample_rate, overlap)
        else:
            self.audio = _fade_in(best_audio, self.sample_rate)
        record = SegmentRecord(
            index=index,
            file=f"segments/{index:02d}.wav",
            start_s=round(start_s, 4),
            duration_s=round(best_audio.size / self.sample_rate, 4),
            waypoint=_affect(waypoint),
            step=round(placed.step, 4),
            steep=placed.steep,
            pace=placed.reason,
            listener=_affect(self.listener),
            estimated=_affect(best_eval.estimated),
            score=best_eval.score,
            prompt=chosen_plan.prompt,
            chosen_attempt=chosen_attempt,
            chosen_seed=attempts[chosen_attempt].candidates[chosen_index].seed,
            attempts=attempts,
            loudness_lufs=round(best_eval.descriptors.loudness_lufs, 3),
            events=self._pending_events,
            midi=f"segments/{index:02d}.mid" if score is not None else None,
            substitutions=self.generator.substitutions(chosen_plan),
        )
        self._pending_events = []
        self._listener_fresh = False
        self._reported = None
        self._last_waypoint = waypoint
        self._last_plan = chosen_plan
        result = SegmentResult(best_audio, record, score)
        self.results.append(result)
        self.on_event("segment_done", {"index": index, "score": best_eval.score, "record": record})
        return result

    def _repair(self, audio: np.ndarray, evaluation: Evaluation, plan: MusicPlan,
                context: PlanContext) -> tuple[np.ndarray, Evaluation]:
        """Remove from the chosen candidate what breaks the listener's constraints (drums they avoid,
        attacks in gentle mode, highs they avoid) when no candidate or retry came without it.

        The corrected audio is re-normalised, re-limited and re-scored; it replaces the candidate only
        when it breaks fewer constraints, and the segment's events say what was removed.
        """
        # The evaluation's own measurement says which constraints broke (no second analysis).
        kinds = {v.kind for v in audio_violations(evaluation.descriptors, context.preferences)}
        fixed, removed = remove_violations(audio, self.sample_rate, kinds, AUDIO_LIMITS)
        fixed = safety_limit(normalize_loudness(fixed, self.sample_rate, self._target_lufs(plan)),
                             self.sample_rate, PEAK_CEILING_DB)
        again = self.evaluator.evaluate(fixed, self.sample_rate, plan, context)
        kept = len(again.violations) < len(evaluation.violations)
        self._pending_events.append({
            "kind": "repair", "removed": removed, "kept": kept,
            "violations_before": list(evaluation.violations), "violations_after": list(again.violations),
        })
        self.on_event("repair", {"index": context.segment_index, "removed": removed, "kept": kept})
        return (fixed, again) if kept else (audio, evaluation)

    def _fit_length(self, audio: np.ndarray, seconds: float) -> np.ndarray:
        n = int(round(seconds * self.sample_rate))
        if audio.size >= n:
            return audio[:n]
        if audio.size < n * 0.9:
            raise GenerationError(
                f"generator {self.generator.name!r} returned {audio.size / self.sample_rate:.2f} s, "
                f"asked for {seconds:.2f} s"
            )
        return np.pad(audio, (0, n - audio.size))

    # -- the whole session ---------------------------------------------------------------------
    def final_audio(self) -> np.ndarray:
        """The stitched session through the safety limiter."""
        return safety_limit(self.audio, self.sample_rate, PEAK_CEILING_DB)

    def record(self) -> SessionRecord:
        records = [r.record for r in self.results]
        summary = SessionSummary.of(
            records, duration_s=self.audio.size / self.sample_rate, target=_affect(self.target),
            loudness_lufs=integrated_lufs(self.audio, self.sample_rate), retries_skipped=self.retries_skipped,
            wall_seconds=time.perf_counter() - self._started) if records else None
        return SessionRecord(
            promptloop_version=__version__,
            created=self._created,
            sample_rate=self.sample_rate,
            seed=self.spec.seed,
            settings=self.spec.settings(),
            backends={
                "generator": self.generator.describe(),
                "planner": self.planner.describe(),
                "evaluator": self.evaluator.describe(),
            },
            start=_affect(self.spec.start),
            target=_affect(self.target),
            preferences=self.preferences.to_dict(),
            prior={"name": self.spec.prior_name, "seconds": round(self.spec.prior.size / self.sample_rate, 3)}
            if self.spec.prior is not None else None,
            segments=records,
            summary=summary,
            midi="session.mid" if self.session_midi_available() else None,
            pacing=self._pacing_record(records),
        )

    def _pacing_record(self, records: list[SegmentRecord]) -> PacingRecord:
        pace = self.pace()
        steep = [r.index for r in records if r.steep]
        note = pace.note()
        if note is None and steep:  # the path was comfortable but an update made a step steep
            note = (f"Segment(s) {', '.join(str(i + 1) for i in steep)} moved further than the comfortable "
                    f"step of {self.spec.max_step:.2f} to keep the session on course for its target.")
        return PacingRecord(
            pacer=self.pacer.describe(), comfortable_step=self.spec.max_step,
            distance=round(pace.distance, 4), step=round(pace.step, 4), steep=pace.steep or bool(steep),
            comfortable_segments=pace.comfortable_segments, steep_segments=steep, note=note,
            tempo_note=tempo_range_note(self.target, self.preferences),
        )

    def session_midi_available(self) -> bool:
        return bool(self.results) and all(r.score is not None for r in self.results)

    def session_midi(self) -> bytes | None:
        """The whole session's score as one MIDI file (None unless every segment has a score)."""
        if not self.session_midi_available():
            return None
        scores = [r.score for r in self.results if r.score is not None]
        return scores_to_midi(scores, [r.record.start_s for r in self.results])


def _fade_in(audio: np.ndarray, sample_rate: int, seconds: float = 0.05) -> np.ndarray:
    n = min(audio.size, int(seconds * sample_rate))
    out = audio.copy()
    out[:n] *= np.linspace(0.0, 1.0, n, dtype=np.float32)
    return out


def _rank(evaluation: Evaluation) -> tuple[bool, float]:
    """Candidates that keep every constraint first, then by score."""
    return (not evaluation.violations, evaluation.score)


def _same_music(plan: MusicPlan, previous: MusicPlan) -> bool:
    """True when a rewrite asks the generator for exactly what it asked before (the rationale aside):
    a retry would only draw new seeds, which chases the evaluator's measurement noise."""
    return plan.model_dump(exclude={"rationale"}) == previous.model_dump(exclude={"rationale"})


def run_session(
    spec: SessionSpec,
    generator: Generator,
    planner: Planner,
    evaluator: Evaluator,
    *,
    fallback_planner: Planner | None = None,
    on_event: Event | None = None,
    pacer: Pacer | None = None,
) -> LoopSession:
    """Run every segment of ``spec`` and return the finished session."""
    session = LoopSession(spec, generator, planner, evaluator, fallback_planner=fallback_planner,
                          on_event=on_event, pacer=pacer)
    while not session.done:
        session.next_segment()
    return session

