"""One settings object, read once (from ``PROMPTLOOP_*`` environment variables or a ``.env`` file)
and passed in.  Nothing here is created at import time."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Defaults for every entry point; CLI flags and API fields override them per call."""

    model_config = SettingsConfigDict(env_prefix="PROMPTLOOP_", env_file=".env", extra="ignore")

    generator: str = "synth"
    planner: str = "rule"
    evaluator: str = "embedding"
    candidates: int = Field(default=2, ge=1, le=8)
    threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    max_retries: int = Field(default=1, ge=0, le=5)
    crossfade_seconds: float = Field(default=1.0, ge=0.0, le=4.0)
    max_step: float = Field(default=0.5, gt=0.0, le=2.0)
    data_dir: Path = Path.home() / ".local" / "share" / "promptloop"
    models_dir: Path | None = None
    # server (issue 8): SQLAlchemy URL (None = SQLite in data_dir), bounded queue, job deadline
    database_url: str | None = None
    server_queue_size: int = Field(default=8, ge=1, le=1000)
    server_workers: int = Field(default=1, ge=1, le=64)
    job_deadline_seconds: float = Field(default=900.0, gt=0.0, le=86400.0)

    @field_validator("generator", "planner", "evaluator")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not value.replace("-", "").replace("_", "").isalnum():
            raise ValueError("backend names are letters, digits, '-' and '_'")
        return value
