"""A schemathesis stateful run against the app's own OpenAPI document, as one user, with a second
user shadowing every step: each request of the first user that succeeded on an object's id is sent
again with the second user's token and must answer 404 without naming the object (the isolation
matrix of tests/server/test_isolation.py, over generated call sequences instead of fixed ones).
Every response of the run is checked by schemathesis (no 5xx, status codes, content types and bodies
as the schema declares them).

Deterministic, so that it can run in CI: hypothesis is derandomized (the same call sequences every
run), every scenario starts from a fresh state (two new users, who see nothing of earlier scenarios),
and jobs run to the end inside the request that queued them (:class:`InlinePool`, a worker pool
through the service's real interface), so no answer depends on how far a background job has got.
Bounded in scenarios and steps; ``PROMPTLOOP_SOAK=1`` runs longer.  The last test proves the run
still catches what it is for: against a service that leaks one user's session to another, the
shadowing user's requests answer 200 (recorded rather than raised, so that hypothesis has no failing
run to replay: a replay through the leaky service once drew other calls, a verdict that was not
stable).
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

import hypothesis
import schemathesis
from fastapi.testclient import TestClient
from rel_support import soak
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from srv_support import SHORT, GatedGenerator

from promptloop.acquisition.affect import Affect
from promptloop.errors import QueueFull
from promptloop.representation.preferences import Preferences
from promptloop.service.workers import JobContext, Work, WorkerPool
from promptloop_server import create_app


class InlinePool(WorkerPool):
    """Runs each job to its end inside ``submit``: job states never race the requests that read them."""

    kind = "inline"

    def __init__(self) -> None:
        self.done = 0

    def submit(self, job_id: str, work: Work, deadline_s: float) -> None:
        if deadline_s <= 0:
            raise QueueFull("no time for the job", retry_after=1)
        work(JobContext(job_id, time.monotonic() + deadline_s))
        self.done += 1

    def cancel(self, job_id: str, reason: str = "cancelled") -> bool:
        return False  # nothing waits or runs between requests

    @property
    def queued(self) -> int:
        return 0

    @property
    def running(self) -> int:
        return 0

    @property
    def queue_size(self) -> int:
        return 8

    def shutdown(self, wait: bool = True) -> None:
        pass


def _service(make_service, tmp_path, name: str, **kwargs: Any):  # noqa: ANN001, ANN202
    tone = GatedGenerator()
    tone.gate.set()  # a cheap generator: stateful runs generate often, the audio itself is not the point
    return make_service(data_dir=tmp_path / name, generator=tone, pool=InlinePool(), job_deadline_s=60,
                        settings={"rate_limit_per_minute": 1_000_000, "audio_quota_seconds": 120.0}, **kwargs)


def _stateful_run(service, app, *, shrink: bool = True, leaks: list[str] | None = None) -> list[str]:  # noqa: ANN001
    """The run; with ``leaks``, a shadowed request that does not answer 404 is recorded there
    instead of failing the run (hypothesis replays a failing run to report it, and the replay of a
    run that went through a leaky service need not draw the same calls: its verdict would not be
    stable)."""
    # the event stream never ends by design; it is covered by tests/server
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex=r"/events$")
    # valid inputs only: sequences must create objects to act on them (the stateless run in
    # tests/server/test_schemathesis.py sends the invalid ones)
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])
    shadow = TestClient(app)
    shadowed: list[str] = []
    names = itertools.count()

    class TwoUsers(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:  # a fresh state per scenario: two new users, alice with one session
            n = next(names)
            user, self.alice = service.create_user(f"alice{n}")
            self.bob = service.create_user(f"bob{n}")[1]
            self.own = {"session_id": service.create_session(user, start=Affect(-0.5, 0.5), target=Affect(0.5, -0.5),
                                                             preferences=Preferences(), **SHORT)["id"]}
            self.own["job_id"] = service.generate(user, self.own["session_id"], 1)["id"]  # runs inline

        def before_call(self, case):  # noqa: ANN001, ANN202
            # ids the sequence has not made yet are alice's own objects, so that calls reach real
            # objects (random ids only ever find 404s; the stateless run covers those)
            for name, value in self.own.items():
                if name in (case.path_parameters or {}) and not str(case.path_parameters[name]).startswith(("s_", "j_")):
                    case.path_parameters[name] = value

        def get_call_kwargs(self, case):  # noqa: ANN001, ANN202
            return {"headers": {"Authorization": f"Bearer {self.alice}"}}

        def after_call(self, response, case):  # noqa: ANN001, ANN202
            super().after_call(response, case)
            template = case.operation.path
            if response.status_code >= 400 or "{" not in template:
                return
            url = re.sub(r"{(\w+)}", lambda m: str(case.path_parameters[m.group(1)]), template)
            ids = [str(v) for v in case.path_parameters.values() if not str(v).isdigit()]
            body = case.body if isinstance(case.body, (dict, list, str, int, float, bool)) else None
            query = case.query if isinstance(case.query, dict) else None
            r = shadow.request(case.method, url, params=query, json=body, headers={"Authorization": f"Bearer {self.bob}"})
            if leaks is not None and r.status_code != 404:
                leaks.append(f"{case.method} {template} answered {r.status_code} to another user")
                return
            assert r.status_code == 404, (case.method, url, r.status_code, r.text)
            assert not any(i in r.text for i in ids)
            shadowed.append(f"{case.method} {template}")

        def validate_response(self, response, case, additional_checks=None, **kwargs):  # noqa: ANN001, ANN202
            # Schema-valid input may still name a backend this machine lacks or an affect word that
            # does not exist (422 with a clear message): semantics a JSON schema cannot state.
            case.validate_response(response, additional_checks=additional_checks, excluded_checks=[positive_data_acceptance],
                                   transport_kwargs=kwargs or None, recorder=getattr(self, "recorder", None))

    TwoUsers.run(settings=hypothesis.settings(max_examples=soak(25, 200), stateful_step_count=soak(6, 12),
                                              deadline=None, database=None, derandomize=True,
                                              phases=[p for p in hypothesis.Phase if shrink or p != hypothesis.Phase.shrink],
                                              suppress_health_check=list(hypothesis.HealthCheck)))
    return shadowed


def test_stateful_run_with_a_shadowing_second_user(make_service, tmp_path) -> None:
    service = _service(make_service, tmp_path, "run")
    shadowed = _stateful_run(service, create_app(service, close_service=False))
    print(f"\nshadowed {len(shadowed)} steps on {len(set(shadowed))} operations; {service.pool.done} jobs ran")
    # The isolation check happened on real objects (every id-taking endpoint is also covered by the
    # fixed matrix of tests/server/test_isolation.py).
    assert len(set(shadowed)) >= 2, shadowed


class _LeakySessions:
    """A deliberate isolation bug: reading a session by id ignores who owns it."""

    def __init__(self, sessions: Any, ctx: Any) -> None:
        self._inner, self._ctx = sessions, ctx

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get(self, user: Any, session_id: str) -> dict[str, Any]:
        from promptloop.service.store import SessionRow
        from promptloop.service.views import session_view

        with self._ctx.db() as db:
            row = db.get(SessionRow, session_id)
            if row is None:
                return self._inner.get(user, session_id)
            return session_view(db, row, self._ctx.settings)


def test_the_stateful_run_catches_a_session_leaked_to_another_user(make_service, tmp_path) -> None:
    service = _service(make_service, tmp_path, "leaky")
    service.sessions = _LeakySessions(service.sessions, service.ctx)
    # every read of a session's data answers as its owner would
    for name in ("list_readings", "list_messages", "list_segments", "provenance"):
        inner = getattr(service, name)

        def leaky(user, session_id, *args, _inner=inner, **kwargs):  # noqa: ANN001, ANN202
            from promptloop.service.store import SessionRow, User

            with service.ctx.db() as db:
                row = db.get(SessionRow, session_id) if isinstance(session_id, str) else None
                owner = db.get(User, row.user_id) if row is not None else user
            return _inner(owner, session_id, *args, **kwargs)

        setattr(service, name, leaky)
    leaks: list[str] = []
    _stateful_run(service, create_app(service, close_service=False), shrink=False, leaks=leaks)
    assert any("answered 200" in leak for leak in leaks), leaks
