"""The playlist spec: who listens, where each listener starts and should end up, how many tracks of
what length, the arc across them, how different the tracks must be, and which backends make them.

A spec is a YAML or JSON file::

    name: evening wind-down
    seed: 7
    tracks: 3
    track_seconds: 30
    segments_per_track: 3
    arc: iso                 # iso: match the listener first, then move; hold: stay at the target
    start: anxious           # defaults for every listener (a word or "v=..,a=..")
    target: calm
    listeners:
      - id: ana
        preferences: {prefer: [piano, soft pads], avoid: [drums]}
        sensitivities: {gentle: true, loudness_ceiling_lufs: -20}

Unknown keys are refused, and every problem is reported with where it is (``listeners[0].start``).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from promptloop.acquisition.affect import Affect, affect_text, parse_affect
from promptloop.errors import InputError
from promptloop.representation.preferences import (
    DEFAULT_LOUDNESS_CEILING_LUFS,
    Preferences,
)
from promptloop.session.loop import LIMITS

__all__ = [
    "BackendChoice",
    "ListenerSpec",
    "PlaylistSpec",
    "VarietySpec",
    "load_spec",
    "parse_spec",
]

MAX_TRACKS = 50
MAX_LISTENERS = 20
MAX_SPEC_BYTES = 256 * 1024
#: Default smallest allowed distance between two tracks of a playlist (see promptloop.playlist.variety).
DEFAULT_MIN_DISTANCE = 0.08
_LISTENER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PreferenceSpec(_Strict):
    """What the listener likes and what must never be played."""

    prefer: list[str] = Field(default=[], description="liked instruments, textures or words")
    genres: list[str] = []
    avoid: list[str] = Field(default=[], description="sounds never to play")


class SensitivitySpec(_Strict):
    """Sound sensitivities: gentle mode (hyperacusis, misophonia, tinnitus), a loudness ceiling and a
    comfortable tempo range."""

    gentle: bool = False
    loudness_ceiling_lufs: float = DEFAULT_LOUDNESS_CEILING_LUFS
    tempo_range_bpm: list[float] | None = Field(default=None, min_length=2, max_length=2,
                                                description="[low, high] BPM: every track's tempo stays inside it")


class ListenerSpec(_Strict):
    id: str = Field(description="a pseudonym: lower-case letters, digits, '-' and '_' (used in file names)")
    start: str | None = Field(default=None, description="overrides the playlist's start affect")
    target: str | None = Field(default=None, description="overrides the playlist's target affect")
    preferences: PreferenceSpec = PreferenceSpec()
    sensitivities: SensitivitySpec = SensitivitySpec()

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _LISTENER_ID.match(value):
            raise ValueError("must be 1-40 lower-case letters, digits, '-' or '_', starting with a letter or digit")
        return value

    @field_validator("start", "target", mode="before")
    @classmethod
    def _affect(cls, value: Any) -> str | None:
        return None if value is None else affect_text(value)

    @model_validator(mode="after")
    def _preferences_agree(self) -> ListenerSpec:
        self.to_preferences()
        return self

    def to_preferences(self) -> Preferences:
        try:
            return Preferences.build(
                self.preferences.prefer,
                self.preferences.avoid,
                genres=self.preferences.genres,
                gentle=self.sensitivities.gentle,
                loudness_ceiling_lufs=self.sensitivities.loudness_ceiling_lufs,
                tempo_range_bpm=self.sensitivities.tempo_range_bpm,
            )
        except InputError as exc:
            raise ValueError(str(exc)) from None


class VarietySpec(_Strict):
    """Tracks of one playlist must differ by at least ``min_distance``; a track that does not is
    regenerated with a new seed, up to ``max_attempts`` renders in all."""

    min_distance: float = Field(default=DEFAULT_MIN_DISTANCE, ge=0.0, le=1.0)
    max_attempts: int = Field(default=3, ge=1, le=8)


class BackendChoice(_Strict):
    """Backends by registry name (None: the installation's settings) and the loop's knobs."""

    generator: str | None = None
    planner: str | None = None
    evaluator: str | None = None
    candidates: int = Field(default=1, ge=LIMITS["candidates"][0], le=LIMITS["candidates"][1])
    max_retries: int = Field(default=0, ge=LIMITS["max_retries"][0], le=LIMITS["max_retries"][1])
    threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    max_step: float = Field(default=0.5, ge=LIMITS["max_step"][0], le=LIMITS["max_step"][1])
    crossfade_seconds: float | None = Field(
        default=None, ge=0.0, le=LIMITS["crossfade_seconds"][1],
        description="None: a quarter of a segment, at most 1 s",
    )
    gpus_per_worker: float | None = Field(
        default=None, ge=0.0, le=8.0,
        description="GPUs each Ray worker asks for; None: 1 for GPU generators (musicgen) when the cluster has GPUs",
    )

    @field_validator("generator", "planner", "evaluator")
    @classmethod
    def _plain_name(cls, value: str | None) -> str | None:
        if value is not None and not value.replace("-", "").replace("_", "").isalnum():
            raise ValueError("backend names are letters, digits, '-' and '_'")
        return value


class PlaylistSpec(_Strict):
    """A batch of tracks for one or more listeners, following a planned arc."""

    name: str = Field(default="playlist", min_length=1, max_length=80)
    seed: int = Field(default=0, ge=0, lt=2**32)
    tracks: int = Field(default=3, ge=1, le=MAX_TRACKS)
    track_seconds: float = Field(default=30.0, gt=0.0)
    segments_per_track: int = Field(default=3, ge=1, le=LIMITS["segments"][1])
    arc: Literal["iso", "hold"] = "iso"
    start: str | None = Field(default=None, description="default start affect for every listener")
    target: str | None = Field(default=None, description="default target affect for every listener")
    format: Literal["flac", "wav"] = "flac"
    variety: VarietySpec = VarietySpec()
    backends: BackendChoice = BackendChoice()
    listeners: list[ListenerSpec] = Field(min_length=1, max_length=MAX_LISTENERS)

    @field_validator("start", "target", mode="before")
    @classmethod
    def _affect(cls, value: Any) -> str | None:
        return None if value is None else affect_text(value)

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("must be printable text on one line")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PlaylistSpec:
        low, high = LIMITS["segment_seconds"]
        seconds = self.segment_seconds
        if not low <= seconds <= high:
            raise ValueError(
                f"track_seconds / segments_per_track = {seconds:g} s per segment; it must be within [{low:g}, {high:g}]"
            )
        if self.crossfade_seconds >= seconds / 2:
            raise ValueError("backends.crossfade_seconds must be shorter than half a segment")
        ids = [listener.id for listener in self.listeners]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"listener ids must be unique; repeated: {', '.join(duplicates)}")
        for n, listener in enumerate(self.listeners):
            if (listener.start or self.start) is None and self.arc == "iso":
                raise ValueError(f"listeners[{n}] ({listener.id}) has no start affect (set start at the top or per listener)")
            if (listener.target or self.target) is None:
                raise ValueError(f"listeners[{n}] ({listener.id}) has no target affect (set target at the top or per listener)")
        return self

    # -- derived values ------------------------------------------------------------------------
    @property
    def segment_seconds(self) -> float:
        return self.track_seconds / self.segments_per_track

    @property
    def crossfade_seconds(self) -> float:
        if self.backends.crossfade_seconds is not None:
            return self.backends.crossfade_seconds
        return round(min(1.0, self.segment_seconds / 4), 3)

    def start_of(self, listener: ListenerSpec) -> Affect:
        text = listener.start or self.start or listener.target or self.target
        assert text is not None  # the model validator guarantees a target
        return parse_affect(text)

    def target_of(self, listener: ListenerSpec) -> Affect:
        text = listener.target or self.target
        assert text is not None
        return parse_affect(text)

    def fingerprint(self, resolved_backends: dict[str, str]) -> str:
        """A hash of everything that decides the music, so a resumed run can tell it is the same job."""
        payload = {"spec": self.model_dump(mode="json"), "backends": resolved_backends}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "spec"


def _explain(exc: ValidationError, source: str) -> InputError:
    problems = []
    for error in exc.errors(include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see docs/playlists.md)"
        problems.append(f"{_where(tuple(error['loc']))}: {message}")
    return InputError(f"invalid playlist spec {source}: " + "; ".join(problems))


def parse_spec(data: Any, source: str = "") -> PlaylistSpec:
    """Validate an already-parsed spec (a dict); problems become one :class:`InputError`."""
    if not isinstance(data, dict):
        raise InputError(f"invalid playlist spec {source}: the top level must be a mapping of keys")
    try:
        return PlaylistSpec.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, source) from None


def load_spec(path: str | Path) -> PlaylistSpec:
    """Read a ``.yaml``/``.yml`` or ``.json`` spec file and validate it."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError(f"playlist spec not found: {path}")
    if path.stat().st_size > MAX_SPEC_BYTES:
        raise InputError(f"playlist spec {path.name} is larger than {MAX_SPEC_BYTES // 1024} KiB")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"playlist spec {path.name} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise InputError(f"playlist spec {path.name} is not valid YAML{where}") from None
    return parse_spec(data, path.name)
