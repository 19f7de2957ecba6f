"""Scenario suites: YAML files that say which sessions the harness runs.

A suite file holds ``suite`` (a name), ``defaults`` (session settings shared by every scenario) and
``scenarios`` (a list; each names a start affect, a target, preferences and sensitivities, and may
override any default).  Everything is validated on load; a bad file is an :class:`InputError` that
names the file and the scenario.

>>> suite = load_suite("eval/scenarios/core.yaml")  # doctest: +SKIP
>>> suite.scenarios[0].start_affect
Affect(valence=-0.6, arousal=0.7)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from promptloop.acquisition.affect import Affect, parse_affect
from promptloop.errors import InputError
from promptloop.representation.preferences import (
    DEFAULT_LOUDNESS_CEILING_LUFS,
    Preferences,
)
from promptloop.session.loop import LIMITS
from promptloop.wiring.settings import Settings

__all__ = ["Scenario", "SessionDefaults", "Suite", "load_suite", "quadrant", "resolve_suite_path"]



def _suites_dir() -> Path:
    """The named suites: package data of an installed wheel, else the checkout's ``eval/scenarios``."""
    here = Path(__file__).resolve()
    packaged = here.parent / "suites"
    return packaged if packaged.is_dir() else here.parents[2] / "eval" / "scenarios"


SUITES_DIR = _suites_dir()
_MAX_SCENARIOS = 500


def quadrant(affect: Affect) -> str:
    """The circumplex quadrant of an affect: ``"V+A+"``, ``"V-A+"``, ``"V-A-"`` or ``"V+A-"``."""
    return f"V{'+' if affect.valence >= 0 else '-'}A{'+' if affect.arousal >= 0 else '-'}"


class SessionDefaults(BaseModel):
    """Session settings shared by a suite's scenarios (each may override them)."""

    model_config = ConfigDict(extra="forbid")

    segments: int = 4
    segment_seconds: float = 6.0
    # None: the product's default from Settings (recorded in the report with the value used).
    candidates: int | None = None
    max_retries: int | None = None
    threshold: float | None = None
    max_step: float | None = None
    crossfade_seconds: float | None = None
    seeds: list[int] = Field(default_factory=lambda: [0, 1], min_length=1, max_length=64)

    @model_validator(mode="after")
    def _within_limits(self) -> SessionDefaults:
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                raise ValueError(f"{name} must be within [{low}, {high}], got {value}")
        if self.crossfade_seconds is not None and self.crossfade_seconds >= self.segment_seconds / 2:
            raise ValueError("crossfade must be shorter than half a segment")
        if any(not 0 <= s < 2**32 for s in self.seeds) or len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must be distinct integers in [0, 2**32)")
        return self


class Scenario(BaseModel):
    """One listener situation: where they are, where to lead them, what they like and cannot bear."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    start: str
    target: str
    prefer: list[str] = Field(default_factory=list)
    avoid: list[str] = Field(default_factory=list)
    genres: list[str] = Field(default_factory=list)
    gentle: bool = False
    loudness_ceiling: float = DEFAULT_LOUDNESS_CEILING_LUFS
    note: str = ""
    overrides: dict[str, Any] = Field(default_factory=dict)

    @field_validator("start", "target")
    @classmethod
    def _affect(cls, value: str) -> str:
        parse_affect(value)  # raises InputError (a ValueError) with a helpful message
        return value

    @model_validator(mode="after")
    def _preferences(self) -> Scenario:
        self.preferences()  # conflicting or unknown settings fail here, not mid-run
        return self

    @property
    def start_affect(self) -> Affect:
        return parse_affect(self.start)

    @property
    def target_affect(self) -> Affect:
        return parse_affect(self.target)

    @property
    def start_quadrant(self) -> str:
        return quadrant(self.start_affect)

    @property
    def target_quadrant(self) -> str:
        return quadrant(self.target_affect)

    def preferences(self) -> Preferences:
        return Preferences.build(self.prefer, self.avoid, genres=self.genres,
                                 loudness_ceiling_lufs=self.loudness_ceiling, gentle=self.gentle)

    def tags(self) -> list[str]:
        """Sensitivity tags used to group results: gentle, ceiling, avoid."""
        tags = []
        if self.gentle:
            tags.append("gentle")
        if self.loudness_ceiling < DEFAULT_LOUDNESS_CEILING_LUFS:
            tags.append("ceiling")
        if self.avoid:
            tags.append("avoid")
        return tags or ["plain"]


class Suite(BaseModel):
    """A named list of scenarios with shared defaults."""

    model_config = ConfigDict(extra="forbid")

    suite: str = Field(min_length=1, max_length=60)
    description: str = ""
    defaults: SessionDefaults = Field(default_factory=SessionDefaults)
    scenarios: list[Scenario] = Field(min_length=1, max_length=_MAX_SCENARIOS)

    @model_validator(mode="after")
    def _unique_and_overridable(self) -> Suite:
        ids = [s.id for s in self.scenarios]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate scenario id(s): {', '.join(duplicates)}")
        for scenario in self.scenarios:
            self.settings_for(scenario)
        return self

    def settings_for(self, scenario: Scenario) -> SessionDefaults:
        """The suite defaults with the scenario's overrides applied (validated)."""
        unknown = set(scenario.overrides) - set(SessionDefaults.model_fields) - {"seeds"}
        if unknown:
            raise ValueError(f"scenario {scenario.id}: unknown override(s) {', '.join(sorted(unknown))}")
        return SessionDefaults.model_validate({**self.defaults.model_dump(), **scenario.overrides})

    def session_settings(self, scenario: Scenario, settings: Settings) -> dict[str, Any]:
        """Every session setting for ``scenario``, product defaults filling what the suite leaves out."""
        chosen = self.settings_for(scenario).model_dump(exclude={"seeds"})
        for name in ("candidates", "max_retries", "threshold", "max_step", "crossfade_seconds"):
            if chosen[name] is None:
                chosen[name] = getattr(settings, name)
        return chosen

    def seeds(self, count: int | None = None) -> list[int]:
        """The first ``count`` seeds: the suite's list, extended past its largest when longer."""
        seeds = list(self.defaults.seeds)
        if count is None:
            return seeds
        if count < 1 or count > 64:
            raise InputError(f"--seeds must be within [1, 64], got {count}")
        while len(seeds) < count:
            seeds.append(max(seeds) + 1)
        return seeds[:count]


def resolve_suite_path(name_or_path: str | Path) -> Path:
    """``core`` → ``core.yaml`` of the named suites (``eval/scenarios`` in a checkout); a path is used as it is."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        return path
    candidate = SUITES_DIR / f"{name_or_path}.yaml"
    if candidate.exists() or not path.exists():
        return candidate
    return path


def load_suite(name_or_path: str | Path) -> Suite:
    """Read and validate a suite file; any problem is one :class:`InputError`."""
    path = resolve_suite_path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(f"suite not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read suite {path}: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"suite {path.name} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"suite {path.name} must be a mapping with 'suite' and 'scenarios'")
    try:
        return Suite.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first.get("ctx", {}).get("error", first["msg"]))
        raise InputError(f"suite {path.name}: {where}: {message}") from None
