"""The public names of the service package and of the server edge are pinned."""

import promptloop.service
import promptloop_server


def test_service_public_api() -> None:
    assert sorted(promptloop.service.__all__) == [
        "Conflict", "InProcessPool", "JobContext", "LIMITS", "NotFound", "QueueFull", "Service",
        "ServiceConfig", "ServiceError", "Unauthorized", "WorkerPool",
    ]
    for name in promptloop.service.__all__:
        assert getattr(promptloop.service, name) is not None


def test_server_public_api() -> None:
    assert promptloop_server.__all__ == ["create_app"]
