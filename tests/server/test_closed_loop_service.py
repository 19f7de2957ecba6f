"""The closed loop in live sessions: readings posted to the service pace the path exactly as the
twin study's closed loop does (given the same starting belief), survive the loop being rebuilt from the database, stay sealed, and
teach the listener's profile once the session ends."""

from __future__ import annotations

import time
from typing import Any

import pytest

from promptloop.acquisition.affect import AFFECT_WORDS
from promptloop.acquisition.physio import Readings, estimate_affect
from promptloop.evaluation.metrics import measure_cues
from promptloop.evaluation.twin_sessions import TwinStudy
from promptloop.evaluation.twins import MusicHeard, SimulatedListener, TwinTraits
from promptloop.representation.preferences import Preferences
from promptloop.representation.profile import ListenerProfile
from promptloop.service.engine import Service
from promptloop.service.store import SessionRow, User
from promptloop.session.closed_loop import ReadingPacer, apply_readings, sounds_named
from promptloop.session.loop import LoopSession, SessionSpec
from promptloop.wiring.builders import Backends

STUDY = TwinStudy(segments=10, segment_seconds=4.0, crossfade_seconds=1.0)
PAIR = ("tense", "content")
SEED = 11
#: A seeded twin whose session, played this way, sees the pacer hold, lower the loudness ceiling and
#: leave sounds out to test them (checked below on the reference run, not assumed).
TWIN = 40


def _wait(service: Service, user: User, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = service.get_job(user, job_id)
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.02)
    raise AssertionError("the generation job did not finish")


def _service_twin_session(service: Service, user: User, traits: TwinTraits, evict: set[int]) -> str:
    """The twin study's closed-loop session, played through the service: readings posted between
    segments, each segment a generation job; the live loop is dropped after the readings that
    follow the segments in ``evict``, so that the next segment is made by a loop rebuilt from the
    database."""
    start, target = AFFECT_WORDS[PAIR[0]], AFFECT_WORDS[PAIR[1]]
    twin = SimulatedListener.create(traits, start, SEED)
    baseline = twin.baseline().present()
    view = service.create_session(user, start=start, target=target, preferences=Preferences(),
                                  segments=STUDY.segments, segment_seconds=STUDY.segment_seconds, seed=SEED,
                                  candidates=1, max_retries=0, crossfade_seconds=STUDY.crossfade_seconds)
    sid = view["id"]
    assert view["closed_loop"] == {"mode": "closed", "active": False}

    def post(first: bool) -> None:
        batch = [r.present() for r in (twin.readings() for _ in range(STUDY.readings_per_segment))]
        batch = [r for r in batch if r]  # a reading with every field dropped out says nothing
        if batch:
            answer = service.add_readings(user, sid, batch, baseline if first else None)
            assert answer["closed_loop"]["active"]
        else:
            assert not first, "pick a seed whose first readings arrive"

    post(first=True)
    for index in range(STUDY.segments):
        job = _wait(service, user, service.generate(user, sid)["id"])
        assert job["status"] == "succeeded", job
        with service.live.locked(user, sid) as (_, _, loop):
            result = loop.results[index]
            heard = MusicHeard(measure_cues(result.audio, loop.sample_rate), sounds_named(result.record.prompt),
                               STUDY.segment_seconds)
        twin.listen(heard)
        if index < STUDY.segments - 1:
            post(first=False)
        if index in evict:
            service.live.forget(sid)
    return sid


def _direct(backends: Backends, traits: TwinTraits) -> dict[str, Any]:
    """The same session driven in memory, the twin study's way (``run_twin_session``), with the
    pacer's belief starting where the service starts it: the first readings' estimate."""
    start, target = AFFECT_WORDS[PAIR[0]], AFFECT_WORDS[PAIR[1]]
    twin = SimulatedListener.create(traits, start, SEED)
    baseline = twin.baseline()

    def read() -> list[Readings]:
        return [twin.readings() for _ in range(STUDY.readings_per_segment)]

    first = read()
    pacer = ReadingPacer(estimate_affect(Readings.mean(first), baseline, prior=start).affect, baseline)
    spec = SessionSpec(start=start, target=target, segments=STUDY.segments, segment_seconds=STUDY.segment_seconds,
                       seed=SEED, candidates=1, max_retries=0, crossfade_seconds=STUDY.crossfade_seconds)
    session = LoopSession(spec, backends.generator, backends.planner, backends.evaluator,
                          fallback_planner=backends.fallback_planner, pacer=pacer)
    apply_readings(session, pacer, first, first=True)
    for index in range(STUDY.segments):
        result = session.next_segment()
        twin.listen(MusicHeard(measure_cues(result.audio, session.sample_rate), sounds_named(result.record.prompt),
                               STUDY.segment_seconds))
        if index < STUDY.segments - 1:
            apply_readings(session, pacer, read())
    return {"waypoints": [r.record.waypoint.model_dump() for r in session.results],
            "prompts": [r.record.prompt for r in session.results], "decisions": list(pacer.decisions)}


@pytest.fixture
def reference(shared_backends: Backends) -> dict[str, Any]:
    return _direct(shared_backends, TwinTraits.sample(TWIN))


def test_readings_posted_to_a_live_session_pace_it_as_the_evaluated_closed_loop_does(
        service: Service, reference: dict[str, Any]) -> None:
    assert service.settings.planner == "rule"
    user, _ = service.create_user("listener")
    sid = _service_twin_session(service, user, TwinTraits.sample(TWIN), evict={1, 3, 6})
    records = service.provenance(user, sid)["segments"]
    got = [{k: round(r["waypoint"][k], 4) for k in ("valence", "arousal")} for r in records]
    want = [{k: round(w[k], 4) for k in ("valence", "arousal")} for w in reference["waypoints"]]
    assert got == want
    with service.ctx.db() as db:
        row = db.get(SessionRow, sid)
        assert row is not None and row.pacer_sealed is not None
        decisions = service.vault.open(row.pacer_sealed)["pacer"]["decisions"]
    assert decisions == reference["decisions"]
    assert [r["prompt"] for r in records] == reference["prompts"]
    # not a comparison of two paths that only follow: the pacer held back and left sounds out meanwhile
    assert any(d.startswith("probe") for d in decisions) and any(d.startswith("hold") for d in decisions)
    view = service.get_session(user, sid)
    assert view["closed_loop"] == {"mode": "closed", "active": True} and view["status"] == "complete"


def test_a_finished_closed_session_teaches_the_profile_once(service: Service) -> None:
    user, _ = service.create_user("listener")
    sid = _service_twin_session(service, user, TwinTraits.sample(TWIN), evict=set())
    with service.ctx.db() as db:
        row = db.get(SessionRow, sid)
        assert row is not None and row.pacer_sealed is not None
        assert b"suspects" not in row.pacer_sealed and b"heart_rate" not in row.pacer_sealed  # sealed
        saved = service.vault.open(row.pacer_sealed)
    learned = ReadingPacer.from_state(saved["pacer"]).learned()
    profile = service.get_profile(user)
    assert profile.sessions == 1
    assert profile == ListenerProfile().learn(learned)
    # readings after the end are kept but teach nothing more
    answer = service.add_readings(user, sid, [{"heart_rate": 90.0}])
    assert answer["closed_loop"]["active"] is False
    assert service.get_profile(user).sessions == 1
    exported = service.export(user)
    assert exported["sessions"][0]["closed_loop"]["pacer"]["decisions"] == saved["pacer"]["decisions"]


def test_an_open_session_keeps_the_iso_path_and_its_readings_meet_the_listener(service: Service) -> None:
    user, _ = service.create_user("listener")
    view = service.create_session(user, start=AFFECT_WORDS["anxious"], target=AFFECT_WORDS["calm"],
                                  preferences=Preferences(), segments=3, segment_seconds=3.0, pacing="open",
                                  crossfade_seconds=0.5)
    answer = service.add_readings(user, view["id"], [{"heart_rate": 100.0, "skin_conductance": 12.0}])
    assert answer["closed_loop"] == {"active": False, "waiting": 0}
    job = _wait(service, user, service.generate(user, view["id"])["id"])
    assert job["status"] == "succeeded"
    record = service.provenance(user, view["id"])["segments"][0]
    assert record["waypoint"]["arousal"] == pytest.approx(answer["listener"]["arousal"], abs=1e-3)
    assert service.get_session(user, view["id"])["closed_loop"] == {"mode": "open", "active": False}
    assert service.get_profile(user).sessions == 0


def test_an_unknown_pacing_mode_is_refused(alice: Any) -> None:
    r = alice.post("/v1/sessions", json={"pacing": "sideways"})
    assert r.status_code == 422 and "pacing" in r.text
    body = alice.new_session(pacing="open")
    assert body["closed_loop"] == {"mode": "open", "active": False}


def test_what_the_listener_says_they_feel_reaches_the_closed_loop_through_a_rebuilt_loop(service: Service) -> None:
    """A chat message in a closed session is kept with the session's state: after the live loop is
    dropped, the rebuilt loop's pacer still takes it before the next segment, which meets the
    listener within a comfortable step."""
    user, _ = service.create_user("listener")
    sid = service.create_session(user, start=AFFECT_WORDS["anxious"], target=AFFECT_WORDS["calm"],
                                 preferences=Preferences(), segments=4, segment_seconds=3.0, seed=SEED,
                                 candidates=1, max_retries=0, crossfade_seconds=0.5)["id"]
    service.add_readings(user, sid, [{"heart_rate": 84.0}] * 3)
    for heart_rate in (80.0, 75.0):
        assert _wait(service, user, service.generate(user, sid)["id"])["status"] == "succeeded"
        service.add_readings(user, sid, [{"heart_rate": heart_rate}] * 3)
    service.post_message(user, sid, "I feel anxious again")
    service.live.forget(sid)
    assert _wait(service, user, service.generate(user, sid)["id"])["status"] == "succeeded"
    with service.ctx.db() as db:
        row = db.get(SessionRow, sid)
        assert row is not None and row.pacer_sealed is not None
        pacer = service.vault.open(row.pacer_sealed)["pacer"]
    assert pacer["decisions"].count("self-report: v -0.60, a +0.70") == 1
    assert pacer["valence"] == pytest.approx(AFFECT_WORDS["anxious"].valence)
    records = service.provenance(user, sid)["segments"]
    assert records[2]["waypoint"]["valence"] < records[1]["waypoint"]["valence"]  # back toward how they feel
