"""The offline chat reader: common listener messages become a :class:`ChatUpdate` by rules.

>>> state = ChatState(listener=Affect(-0.6, 0.7), target=Affect(0.4, -0.6), preferences=Preferences())
>>> update = sanitize_update(interpret_rules("too loud, and I really don't like violins", state), state)
>>> update.loudness_db, update.avoid
(-3.0, ('strings',))

Whatever produced an update (these rules or a :class:`~promptloop.feedback.base.ChatInterpreter`), it
is sanitised before use: chat can only make the music *safer* — it adds avoided sounds, lowers the
loudness ceiling (or raises it back, never past the ceiling the session started with) and turns
gentle mode on, but never removes a constraint, so prompt-injection text cannot loosen one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from promptloop.acquisition.affect import AFFECT_WORDS
from promptloop.feedback.base import ChatState, ChatUpdate
from promptloop.representation.vocabulary import (
    _ALIASES,
    AVOIDABLE_SOUNDS,
    GENRES,
    HARSH_SOUNDS,
    INSTRUMENTS,
    TEXTURES,
    canonical,
)

__all__ = ["LOUDNESS_STEP_DB", "MAX_MESSAGE_CHARS", "SOUNDS", "interpret_rules", "sanitize_update"]

MAX_MESSAGE_CHARS = 500
MAX_SHIFT = 0.5
LOUDNESS_STEP_DB = 3.0
SOUNDS = frozenset(INSTRUMENTS) | frozenset(TEXTURES) | frozenset(GENRES) | frozenset(AVOIDABLE_SOUNDS)
_ORDINALS = {
    "first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
    "fifth": 4, "5th": 4, "sixth": 5, "6th": 5, "seventh": 6, "eighth": 7,
}


# -- the rule interpreter ---------------------------------------------------------------------------
_NEGATIVE = re.compile(
    r"\b(don'?t|do not|doesn'?t|never|no|not|no more|hate|dislike|can'?t stand|stop|remove|get rid of|"
    r"without|lose|drop|enough|annoying|annoys|bothers?|too much)\b"
)
_POSITIVE = re.compile(r"\b(like|love|enjoy|add|more|want|give me|bring back|some)\b")
_LESS = re.compile(r"\bless\b")
_QUIETER = re.compile(r"\b(too loud|quieter|softer|turn (it )?down|lower the volume|volume down|hurts? my ears)\b")
_LOUDER = re.compile(r"\b(too quiet|too soft|louder|turn (it )?up|can'?t hear|volume up)\b")
_GENTLE = re.compile(r"\b(harsh|piercing|shrill|tinnitus|hyperacusis|misophonia|too sharp|gentler|hurts?)\b")
_CALMER = re.compile(
    r"\b(calmer|more relaxed|relaxed now|less (anxious|stressed|tense|worried)|better now|feeling better|"
    r"more peaceful|sleepier)\b"
)
_WORSE = re.compile(r"\b(more (anxious|stressed|tense|worried|agitated)|worse|panick?(ing|y)|on edge)\b")
_SLOWER = re.compile(r"\b(too (fast|busy|intense|energetic|much going on)|slow (it )?down|calm it down)\b")
_FASTER = re.compile(r"\b(too (slow|sleepy|dull|boring)|more energy|more upbeat|speed (it )?up|faster)\b")
_FEEL = re.compile(r"\b(i'?m|i am|i feel|feeling|i'?m feeling)\s+(?:so |very |really |quite |a bit )?([a-z]+)\b")
_WANT = re.compile(r"\b(?:i want to|help me|i'?d like to|i need to|i wish to)\s+(?:feel\s+|be\s+|get\s+)?([a-z]+)\b")
_TARGET_VERBS = {"sleep": "sleepy", "relax": "relaxed", "focus": "focused", "concentrate": "focused",
                 "unwind": "relaxed", "rest": "calm"}
_SEGMENT = re.compile(
    r"\b(?:like|as) (?:the |that )?(?P<ord>first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|6th|"
    r"seventh|eighth|last|previous|earlier) (?:one|segment|part|bit|piece|track)?"
    r"|\b(?:like|as) segment (?P<num>\d{1,2})\b"
)


def _sound_terms(text: str) -> list[str]:
    """Vocabulary sounds named in ``text`` (aliases resolved), in order of appearance."""
    names = sorted(set(SOUNDS) | set(_ALIASES), key=len, reverse=True)
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for name in names:
        for m in re.finditer(rf"(?<![a-z]){re.escape(name)}(?![a-z])", text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue  # part of a longer name already found ("ocean waves")
            term = canonical(name)
            if term in SOUNDS or term in HARSH_SOUNDS:
                taken.append((m.start(), m.end()))
                found.append((m.start(), term))
    return list(dict.fromkeys(term for _, term in sorted(found)))


def interpret_rules(message: str, state: ChatState) -> ChatUpdate:
    """Read the common messages offline; ``understood`` is False when nothing matched."""
    text = " ".join(message.lower().replace("’", "'").split())
    fields: dict[str, object] = {}
    if _QUIETER.search(text):
        fields["loudness_db"] = -LOUDNESS_STEP_DB
    elif _LOUDER.search(text):
        fields["loudness_db"] = LOUDNESS_STEP_DB
    if _GENTLE.search(text):
        fields["gentle"] = True
    match = _SEGMENT.search(text)
    if match and state.segments:
        if match["num"]:
            fields["like_segment"] = int(match["num"]) - 1
        elif match["ord"] in ("last", "previous", "earlier"):
            fields["like_segment"] = len(state.segments) - 1
        else:
            fields["like_segment"] = _ORDINALS[match["ord"]]
    avoid: list[str] = []
    prefer: list[str] = []
    unprefer: list[str] = []
    for clause in re.split(r"[.,;!?]|\bbut\b|\band\b|\bthough\b", text):
        terms = _sound_terms(clause)
        if not terms:
            continue
        if _NEGATIVE.search(clause):
            avoid += terms
        elif _LESS.search(clause):
            unprefer += terms
        elif _POSITIVE.search(clause):
            prefer += terms
    if avoid:
        fields["avoid"] = tuple(avoid)
    if prefer:
        fields["prefer"] = tuple(prefer)
    if unprefer:
        fields["unprefer"] = tuple(unprefer)
    if _CALMER.search(text):
        fields["listener_shift"] = (0.1, -0.25)
    elif _WORSE.search(text):
        fields["listener_shift"] = (-0.15, 0.25)
    else:
        feel = _FEEL.search(text)
        if feel and feel[2] in AFFECT_WORDS:
            fields["feeling"] = feel[2]
    if _SLOWER.search(text):
        fields["target_shift"] = (0.0, -0.2)
    elif _FASTER.search(text):
        fields["target_shift"] = (0.0, 0.2)
    want = _WANT.search(text)
    if want:
        word = _TARGET_VERBS.get(want[1], want[1])
        if word in AFFECT_WORDS:
            fields["target"] = word
    if not fields:
        return ChatUpdate(understood=False, source="rule")
    return ChatUpdate(understood=True, source="rule", **fields)  # type: ignore[arg-type]


# -- sanitising --------------------------------------------------------------------------------------
def _clamp(value: float, bound: float = MAX_SHIFT) -> float:
    return round(max(-bound, min(bound, float(value))), 3)


def _shift(pair: Sequence[float] | None) -> tuple[float, float] | None:
    if pair is None or len(pair) != 2:
        return None
    shift = (_clamp(pair[0]), _clamp(pair[1]))
    return shift if shift != (0.0, 0.0) else None


def _known(terms: Sequence[str]) -> tuple[str, ...]:
    out = []
    for term in terms[:8]:
        word = canonical(str(term))[:40]
        if word in SOUNDS and word not in out:
            out.append(word)
    return tuple(out)


def sanitize_update(update: ChatUpdate, state: ChatState) -> ChatUpdate:
    """Keep only what is safe and known: vocabulary sounds, affect words, bounded shifts; drop
    anything that would loosen a constraint (un-avoiding, gentle off, louder than the start)."""
    forbidden = state.preferences.forbidden
    avoid = _known(update.avoid)
    prefer = tuple(t for t in _known(update.prefer) if t not in forbidden and t not in avoid)
    unprefer = _known(update.unprefer)
    loud = update.loudness_db
    if loud is not None:
        loud = max(-12.0, min(LOUDNESS_STEP_DB * 2, float(loud))) or None
    like = update.like_segment
    if like is not None and not 0 <= like < len(state.segments):
        like = None
    feeling = update.feeling if update.feeling in AFFECT_WORDS else None
    target = update.target if update.target in AFFECT_WORDS else None
    clean = ChatUpdate(
        understood=update.understood,
        source=update.source,
        feeling=feeling,
        listener_shift=_shift(update.listener_shift) if feeling is None else None,
        target=target,
        target_shift=_shift(update.target_shift) if target is None else None,
        loudness_db=loud,
        avoid=avoid,
        prefer=prefer,
        unprefer=unprefer,
        gentle=True if update.gentle else None,
        like_segment=like,
    )
    empty = clean.model_dump(exclude={"understood", "source"}) == ChatUpdate().model_dump(
        exclude={"understood", "source"})
    return clean.model_copy(update={"understood": clean.understood and not empty})
