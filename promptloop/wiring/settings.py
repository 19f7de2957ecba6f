"""One settings object, read once (from ``PROMPTLOOP_*`` environment variables or a ``.env`` file)
and passed in.  Nothing here is created at import time."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from promptloop.session.defaults import LIMITS, LOOP_DEFAULTS, SKIP_SEED_ONLY_RETRIES

__all__ = ["Settings", "embedded_default_generator"]


def embedded_default_generator(soundfont: Path | None) -> str:
    """``soundfont`` when the sampled renderer works here, else ``synth``."""
    from promptloop.synthesis.soundfont import soundfont_missing

    return "synth" if soundfont_missing(soundfont) else "soundfont"


class Settings(BaseSettings):
    """Defaults for every entry point; CLI flags and API fields override them per call."""

    model_config = SettingsConfigDict(env_prefix="PROMPTLOOP_", env_file=".env", extra="ignore")

    # a General MIDI SoundFont (.sf2/.sf3); None = Debian's fluid-soundfont-gm where installed
    soundfont: Path | None = None
    # the sampled renderer when a SoundFont and libfluidsynth are here, else the procedural synth
    generator: str = Field(default_factory=lambda data: embedded_default_generator(data.get("soundfont")))
    planner: str = "rule"
    evaluator: str = "embedding"
    # the loop's defaults and bounds are SessionSpec's own (promptloop.session.defaults)
    candidates: int = Field(default=int(LOOP_DEFAULTS["candidates"]), ge=LIMITS["candidates"][0], le=LIMITS["candidates"][1])
    threshold: float = Field(default=LOOP_DEFAULTS["threshold"], ge=LIMITS["threshold"][0], le=LIMITS["threshold"][1])
    max_retries: int = Field(default=int(LOOP_DEFAULTS["max_retries"]), ge=LIMITS["max_retries"][0],
                             le=LIMITS["max_retries"][1])
    crossfade_seconds: float = Field(default=LOOP_DEFAULTS["crossfade_seconds"], ge=LIMITS["crossfade_seconds"][0],
                                     le=LIMITS["crossfade_seconds"][1])
    max_step: float = Field(default=LOOP_DEFAULTS["max_step"], ge=LIMITS["max_step"][0], le=LIMITS["max_step"][1])
    # a retry whose rewrite leaves the plan as it was only draws new seeds; off since session 7
    # (docs/evaluation.md, "Retries: the seed-only gate"): PROMPTLOOP_SEED_ONLY_RETRIES=1 turns them on
    seed_only_retries: bool = not SKIP_SEED_ONLY_RETRIES
    # live sessions (issue 13): seconds of audio kept queued ahead of the playhead when the next
    # segment arrives; the chat page and the terminal chat generate just ahead of playback
    live_lookahead_seconds: float = Field(default=0.5, ge=0.0, le=30.0)
    data_dir: Path = Path.home() / ".local" / "share" / "promptloop"
    models_dir: Path | None = None
    # musicgen (issue 3): Hub id, alias (small/medium/large/melody) or local folder; torch device/dtype
    musicgen_model: str = "facebook/musicgen-small"
    device: str = Field(default="auto", pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    # server (issue 8): SQLAlchemy URL (None = SQLite in data_dir), bounded queue, job deadline
    database_url: str | None = None
    server_queue_size: int = Field(default=8, ge=1, le=1000)
    server_workers: int = Field(default=1, ge=1, le=64)
    job_deadline_seconds: float = Field(default=900.0, gt=0.0, le=86400.0)
    # uvicorn's per-request access log (method, path, status): off by default, it costs about a tenth
    # of a read request's CPU time; /metrics counts requests by route and status either way
    access_log: bool = False
    # limits (issue 9, promptloop/service/limits.py): per user; the audio quota is per rolling 24 h
    rate_limit_per_minute: int = Field(default=1200, ge=1, le=1_000_000)
    generate_per_minute: int = Field(default=30, ge=1, le=100_000)
    audio_quota_seconds: float = Field(default=4 * 3600.0, gt=0.0, le=1e7)
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    # llm planner (issue 4): provider, model (name, or a local folder for huggingface), endpoint;
    # the API key comes only from the environment (PROMPTLOOP_LLM_API_KEY or OPENAI_API_KEY)
    llm_provider: Literal["ollama", "openai", "huggingface"] = "ollama"
    llm_model: str = Field(default="llama3.2", min_length=1, max_length=300)
    llm_base_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(default=30.0, gt=0.0, le=600.0)
    llm_retries: int = Field(default=1, ge=0, le=5)
    llm_temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    llm_max_tokens: int = Field(default=512, ge=64, le=8192)

    @field_validator("soundfont")
    @classmethod
    def _soundfont_file(cls, value: Path | None) -> Path | None:
        if value is not None and value.suffix.lower() not in (".sf2", ".sf3"):
            raise ValueError("the SoundFont must be a .sf2 or .sf3 file")
        return value

    @field_validator("generator", "planner", "evaluator")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not value.replace("-", "").replace("_", "").isalnum():
            raise ValueError("backend names are letters, digits, '-' and '_'")
        return value
