"""Continuous batching in the server's worker: segments of different sessions that are ready at the
same time share one ``generate`` call when the generator batches (MusicGen)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from fastapi.testclient import TestClient
from srv_support import Api, GatedGenerator

from promptloop.synthesis.base import GenerationRequest
from promptloop_server import create_app


class BatchedGated(GatedGenerator):
    """A gated fake that says it batches, and records how many requests each call carried."""

    name = "batched-gated"
    batches_across_sessions = True

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def generate(self, requests: Sequence[GenerationRequest]) -> list[np.ndarray]:
        self.sizes.append(len(requests))
        return super().generate(requests)


def test_ready_segments_of_several_sessions_share_one_generate_call(make_service) -> None:
    generator = BatchedGated()
    generator.gate.set()
    service = make_service(generator=generator, workers=3, queue_size=4)
    generator.gate.clear()
    generator.sizes.clear()
    with TestClient(create_app(service, close_service=False)) as client:
        alice = Api(client, service.create_user("alice")[1])
        sessions = [alice.new_session(segments=1, candidates=1, max_retries=0)["id"] for _ in range(3)]
        first = alice.post(f"/v1/sessions/{sessions[0]}/generate").json()
        end = time.monotonic() + 60
        while not generator.sizes:  # session 0 is inside the model call
            assert time.monotonic() < end, "the first call never reached the model"
            time.sleep(0.02)
        later = [alice.post(f"/v1/sessions/{sid}/generate").json() for sid in sessions[1:]]
        batching = service.backends_for(None, None, None).generator
        end = time.monotonic() + 60
        while batching.waiting < 2:  # both wait on the busy model and will be merged into the next call
            assert time.monotonic() < end, "the two later calls never reached the batcher"
            time.sleep(0.02)
        generator.gate.set()
        for job in [first, *later]:
            assert alice.wait_job(job["id"])["status"] == "succeeded"
    assert generator.sizes[0] == 1
    assert 2 in generator.sizes[1:]  # sessions 1 and 2 went through one call
    assert sum(generator.sizes) == 3


def test_generators_that_do_not_batch_are_not_wrapped(make_service) -> None:
    service = make_service(workers=3)
    generator = service.backends_for(None, None, None).generator
    assert not generator.batches_across_sessions
    assert type(generator).__name__ in ("SynthGenerator", "SoundFontGenerator")  # the embedded default, unwrapped
