"""The server's entry into the ``promptloop`` command: ``promptloop serve`` loads :func:`serve`
through the ``promptloop.apps`` entry point, so the library never imports the server."""

from __future__ import annotations

from promptloop.service.engine import Service

from .app import create_app

__all__ = ["serve"]


def serve(service: Service, *, host: str, port: int) -> None:
    """Serve ``service`` over HTTP until interrupted."""
    import uvicorn

    uvicorn.run(create_app(service, freeze_heap=True), host=host, port=port, log_level="info", timeout_graceful_shutdown=5,
                access_log=service.settings.access_log)
