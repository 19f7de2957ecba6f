"""A schemathesis stateful run against the app's own OpenAPI document, as one user, with a second
user shadowing every step: each request of the first user that succeeded on an object's id is sent
again with the second user's token and must answer 404 without naming the object (the isolation
matrix of tests/server/test_isolation.py, over generated call sequences instead of fixed ones).
Every response of the run is checked by schemathesis (no 5xx, status codes, content types and bodies
as the schema declares them).  Bounded in examples and steps; ``PROMPTLOOP_SOAK=1`` runs longer."""

from __future__ import annotations

import re

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from rel_support import SOAK, soak
from schemathesis.specs.openapi.checks import positive_data_acceptance
from srv_support import GatedGenerator

from promptloop_server import create_app


@pytest.fixture
def fresh_app(make_service, tmp_path):
    """A new service (its own data folder) with two users, each time it is called."""
    count = 0

    def make():  # noqa: ANN202
        nonlocal count
        count += 1
        tone = GatedGenerator()
        tone.gate.set()  # a cheap generator: stateful runs generate often, the audio itself is not the point
        service = make_service(data_dir=tmp_path / f"run{count}", generator=tone,
                               settings={"rate_limit_per_minute": 1_000_000, "audio_quota_seconds": 600.0},
                               job_deadline_s=30)
        app = create_app(service, close_service=False)
        return app, service.create_user("alice")[1], service.create_user("bob")[1]

    return make


def _stateful_run(app, alice: str, bob: str) -> list[str]:  # noqa: ANN001
    # the event stream never ends by design; it is covered by tests/server
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex=r"/events$")
    shadow = TestClient(app)
    shadowed: list[str] = []

    class TwoUsers(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case):  # noqa: ANN001, ANN202
            return {"headers": {"Authorization": f"Bearer {alice}"}}

        def after_call(self, response, case):  # noqa: ANN001, ANN202
            super().after_call(response, case)
            template = case.operation.path
            if response.status_code >= 400 or "{" not in template:
                return
            url = re.sub(r"{(\w+)}", lambda m: str(case.path_parameters[m.group(1)]), template)
            ids = [str(v) for v in case.path_parameters.values() if not str(v).isdigit()]
            body = case.body if isinstance(case.body, (dict, list, str, int, float, bool)) else None
            query = case.query if isinstance(case.query, dict) else None
            r = shadow.request(case.method, url, params=query, json=body, headers={"Authorization": f"Bearer {bob}"})
            assert r.status_code == 404, (case.method, url, r.status_code, r.text)
            assert not any(i in r.text for i in ids)
            shadowed.append(f"{case.method} {template}")

        def validate_response(self, response, case, additional_checks=None, **kwargs):  # noqa: ANN001, ANN202
            # Schema-valid input may still name a backend this machine lacks or an affect word that
            # does not exist (422 with a clear message): semantics a JSON schema cannot state.
            case.validate_response(response, additional_checks=additional_checks, excluded_checks=[positive_data_acceptance],
                                   transport_kwargs=kwargs or None, recorder=getattr(self, "recorder", None))

    TwoUsers.run(settings=hypothesis.settings(max_examples=soak(20, 200), stateful_step_count=soak(6, 12),
                                              deadline=None, database=None,
                                              suppress_health_check=list(hypothesis.HealthCheck)))
    return shadowed


@pytest.mark.skipif(not SOAK, reason="soak mode only (PROMPTLOOP_SOAK=1): the stateful run is not repeatable "
                    "enough for CI; tests/server/test_isolation.py checks every id-taking endpoint in CI")
def test_stateful_run_with_a_shadowing_second_user(fresh_app) -> None:
    # The server keeps state across hypothesis examples (sessions, jobs finishing in the background),
    # so hypothesis can find that the same choices led to different rules being available and stop
    # with FlakyStrategyDefinition: an instability of the generator of call sequences, not a failed
    # check.  Such a run is repeated on a fresh service; any failed check fails the test at once.
    shadowed: list[str] = []
    for attempt in range(3):
        try:
            shadowed += _stateful_run(*fresh_app())
        except hypothesis.errors.FlakyStrategyDefinition:
            if attempt == 2:
                raise
            continue
        if len(set(shadowed)) >= 3:
            break
    print(f"\nshadowed {len(shadowed)} steps on {len(set(shadowed))} operations")
    # Random call sequences reach objects by id only now and then (most generated bodies are
    # refused with 422), so up to three runs are made to reach three operations; at least one
    # shadow check must have happened.  Every id-taking endpoint is covered deterministically by
    # tests/server/test_isolation.py.
    assert shadowed
