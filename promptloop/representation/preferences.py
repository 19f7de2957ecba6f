"""The listener's musical preferences and sound-sensitivity settings."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from promptloop.errors import InputError
from promptloop.representation.vocabulary import HARSH_SOUNDS, canonical

__all__ = ["DEFAULT_LOUDNESS_CEILING_LUFS", "TEMPO_LIMITS_BPM", "Preferences", "check_tempo_range", "parse_tempo_range",
           "parse_terms"]

DEFAULT_LOUDNESS_CEILING_LUFS = -14.0
_MIN_CEILING, _MAX_CEILING = -60.0, -5.0
#: The tempi a plan may ask for (the plan's own bounds); a comfortable range must lie within them.
TEMPO_LIMITS_BPM = (40.0, 180.0)
#: The narrowest comfortable tempo range accepted: the pacing needs some room to move.
MIN_TEMPO_SPAN_BPM = 4.0
_MAX_TERMS = 24
_MAX_TERM_CHARS = 40


def check_tempo_range(value: object, what: str = "comfortable tempo range") -> tuple[float, float] | None:
    """``value`` as a ``(low, high)`` tempo range in BPM, or None; anything else is an InputError."""
    if value is None:
        return None
    low_limit, high_limit = TEMPO_LIMITS_BPM
    try:
        low, high = (float(v) for v in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise InputError(f"{what} must be two numbers of BPM, low and high, got {value!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low_limit <= low and high <= high_limit):
        raise InputError(f"{what} must lie within {low_limit:.0f}-{high_limit:.0f} BPM, got {low:g}-{high:g}")
    if high - low < MIN_TEMPO_SPAN_BPM:
        raise InputError(f"{what} must be low <= high and at least {MIN_TEMPO_SPAN_BPM:.0f} BPM wide, got {low:g}-{high:g}")
    return (low, high)


def parse_tempo_range(text: str | None, what: str = "--tempo-range") -> tuple[float, float] | None:
    """``"60-90"`` (or ``"60,90"``) as ``(60.0, 90.0)``; None for no range (the command line's form)."""
    if text is None or not text.strip():
        return None
    try:
        low, high = (float(p) for p in text.replace(",", "-").split("-"))
    except ValueError:
        raise InputError(f"{what}: give two numbers of BPM like 60-90, got {text!r}") from None
    return check_tempo_range((low, high), what)


def parse_terms(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """Split ``"piano, soft pads"`` (or a list) into canonical, de-duplicated terms."""
    if text is None:
        return ()
    parts = text.split(",") if isinstance(text, str) else list(text)
    terms: list[str] = []
    for part in parts:
        if not isinstance(part, str):
            raise InputError(f"preference terms must be text, got {part!r}")
        term = canonical(part)
        if not term:
            continue
        if len(term) > _MAX_TERM_CHARS:
            raise InputError(f"preference term too long ({len(term)} > {_MAX_TERM_CHARS} chars)")
        if term not in terms:
            terms.append(term)
    if len(terms) > _MAX_TERMS:
        raise InputError(f"too many preference terms ({len(terms)} > {_MAX_TERMS})")
    return tuple(terms)


@dataclass(frozen=True)
class Preferences:
    """What the listener likes, what must never be played, how loud and how fast it may get.

    ``tempo_range_bpm`` is the listener's comfortable tempo range: every plan's tempo is kept
    inside it (:func:`promptloop.representation.plan_checks.enforce_constraints`), as the loudness
    ceiling caps its loudness, even where the target's tempo lies outside it.

    ``gentle`` is the mode for hyperacusis, misophonia and tinnitus: no sharp transients, no harsh
    high frequencies, and the sounds in :data:`promptloop.representation.vocabulary.HARSH_SOUNDS` are avoided.
    """

    instruments: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    loudness_ceiling_lufs: float = DEFAULT_LOUDNESS_CEILING_LUFS
    gentle: bool = False
    extra: tuple[str, ...] = field(default=())  # free descriptive words ("warm", "slow")
    tempo_range_bpm: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tempo_range_bpm", check_tempo_range(self.tempo_range_bpm))
        ceiling = self.loudness_ceiling_lufs
        if isinstance(ceiling, bool) or not isinstance(ceiling, (int, float)) or not math.isfinite(ceiling):
            raise InputError(f"loudness ceiling must be a number of LUFS, got {ceiling!r}")
        if not _MIN_CEILING <= ceiling <= _MAX_CEILING:
            raise InputError(
                f"loudness ceiling {ceiling} LUFS is outside [{_MIN_CEILING}, {_MAX_CEILING}]"
            )
        conflicts = self.liked & set(self.avoid)
        if conflicts:
            raise InputError(
                f"conflicting preferences: {', '.join(sorted(conflicts))} both preferred and avoided"
            )
        if self.gentle:
            harsh = set(self.instruments) & HARSH_SOUNDS
            if harsh:
                raise InputError(
                    f"conflicting preferences: gentle mode forbids {', '.join(sorted(harsh))}"
                )

    @classmethod
    def build(
        cls,
        prefer: str | Iterable[str] | None = None,
        avoid: str | Iterable[str] | None = None,
        *,
        genres: str | Iterable[str] | None = None,
        loudness_ceiling_lufs: float = DEFAULT_LOUDNESS_CEILING_LUFS,
        gentle: bool = False,
        tempo_range_bpm: Iterable[float] | None = None,
    ) -> Preferences:
        """Sort free preference words into instruments/textures, genres and other words."""
        from promptloop.representation.vocabulary import GENRES, INSTRUMENTS, TEXTURES

        instruments, genre_terms, extra = [], list(parse_terms(genres)), []
        for term in parse_terms(prefer):
            if term in INSTRUMENTS or term in TEXTURES:
                instruments.append(term)
            elif term in GENRES:
                genre_terms.append(term)
            else:
                extra.append(term)
        return cls(
            instruments=tuple(instruments),
            genres=tuple(dict.fromkeys(genre_terms)),
            avoid=parse_terms(avoid),
            loudness_ceiling_lufs=float(loudness_ceiling_lufs),
            gentle=gentle,
            extra=tuple(extra),
            tempo_range_bpm=None if tempo_range_bpm is None else tuple(tempo_range_bpm),  # type: ignore[arg-type]
        )

    @property
    def liked(self) -> frozenset[str]:
        """Everything the listener asked for: instruments and textures, genres, other words."""
        return frozenset((*self.instruments, *self.genres, *self.extra))

    @property
    def forbidden(self) -> frozenset[str]:
        """Everything that must never appear in a prompt or be rendered."""
        banned = set(self.avoid)
        if self.gentle:
            banned |= HARSH_SOUNDS
        if "percussion" in banned:
            banned.add("drums")
        return frozenset(banned)

    def to_dict(self) -> dict[str, object]:
        """Plain data; ``tempo_range_bpm`` only when set (older records have no such key)."""
        data: dict[str, object] = {
            "instruments": list(self.instruments),
            "genres": list(self.genres),
            "avoid": list(self.avoid),
            "extra": list(self.extra),
            "loudness_ceiling_lufs": self.loudness_ceiling_lufs,
            "gentle": self.gentle,
        }
        if self.tempo_range_bpm is not None:
            data["tempo_range_bpm"] = list(self.tempo_range_bpm)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Preferences:
        return cls(
            instruments=parse_terms(data.get("instruments")),  # type: ignore[arg-type]
            genres=parse_terms(data.get("genres")),  # type: ignore[arg-type]
            avoid=parse_terms(data.get("avoid")),  # type: ignore[arg-type]
            extra=parse_terms(data.get("extra")),  # type: ignore[arg-type]
            loudness_ceiling_lufs=float(data.get("loudness_ceiling_lufs", DEFAULT_LOUDNESS_CEILING_LUFS)),  # type: ignore[arg-type]
            gentle=bool(data.get("gentle", False)),
            tempo_range_bpm=data.get("tempo_range_bpm"),  # type: ignore[arg-type]
        )
