"""The listener's musical preferences and sound-sensitivity settings."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from promptloop.errors import InputError
from promptloop.representation.vocabulary import HARSH_SOUNDS, canonical

__all__ = ["DEFAULT_LOUDNESS_CEILING_LUFS", "Preferences", "parse_terms"]

DEFAULT_LOUDNESS_CEILING_LUFS = -14.0
_MIN_CEILING, _MAX_CEILING = -60.0, -5.0
_MAX_TERMS = 24
_MAX_TERM_CHARS = 40


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
    """What the listener likes, what must never be played, and how loud it may get.

    ``gentle`` is the mode for hyperacusis, misophonia and tinnitus: no sharp transients, no harsh
    high frequencies, and the sounds in :data:`promptloop.representation.vocabulary.HARSH_SOUNDS` are avoided.
    """

    instruments: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    loudness_ceiling_lufs: float = DEFAULT_LOUDNESS_CEILING_LUFS
    gentle: bool = False
    extra: tuple[str, ...] = field(default=())  # free descriptive words ("warm", "slow")

    def __post_init__(self) -> None:
        ceiling = self.loudness_ceiling_lufs
        if isinstance(ceiling, bool) or not isinstance(ceiling, (int, float)) or not math.isfinite(ceiling):
            raise InputError(f"loudness ceiling must be a number of LUFS, got {ceiling!r}")
        if not _MIN_CEILING <= ceiling <= _MAX_CEILING:
            raise InputError(
                f"loudness ceiling {ceiling} LUFS is outside [{_MIN_CEILING}, {_MAX_CEILING}]"
            )
        conflicts = (set(self.instruments) | set(self.genres) | set(self.extra)) & set(self.avoid)
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
        )

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
        return {
            "instruments": list(self.instruments),
            "genres": list(self.genres),
            "avoid": list(self.avoid),
            "extra": list(self.extra),
            "loudness_ceiling_lufs": self.loudness_ceiling_lufs,
            "gentle": self.gentle,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Preferences:
        return cls(
            instruments=parse_terms(data.get("instruments")),  # type: ignore[arg-type]
            genres=parse_terms(data.get("genres")),  # type: ignore[arg-type]
            avoid=parse_terms(data.get("avoid")),  # type: ignore[arg-type]
            extra=parse_terms(data.get("extra")),  # type: ignore[arg-type]
            loudness_ceiling_lufs=float(data.get("loudness_ceiling_lufs", DEFAULT_LOUDNESS_CEILING_LUFS)),  # type: ignore[arg-type]
            gentle=bool(data.get("gentle", False)),
        )
