"""The HTTP edge of promptloop: ``create_app(service)`` builds the FastAPI application."""

from .app import create_app

__all__ = ["create_app"]
