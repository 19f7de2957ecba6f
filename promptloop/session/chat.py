"""Chat in a running session: what the listener says becomes a structured update between segments.

>>> session = LoopSession(spec, generator, planner, evaluator)          # doctest: +SKIP
>>> apply_update(session, interpret("too loud, and I really don't like violins", session))  # doctest: +SKIP
['avoiding strings', 'loudness ceiling -18 -> -21 LUFS']

Common messages are read offline by rules (:mod:`promptloop.feedback.chat_rules`); anything else goes
to the session's planner when it is a :class:`~promptloop.feedback.base.ChatInterpreter` (the LLM
planner is).  Every update is sanitised first, so chat can only make the music safer.
"""

from __future__ import annotations

from dataclasses import replace

from promptloop.acquisition.affect import AFFECT_WORDS, Affect
from promptloop.errors import InputError, PromptloopError
from promptloop.feedback.base import ChatInterpreter, ChatState, ChatUpdate
from promptloop.feedback.chat_rules import (
    MAX_MESSAGE_CHARS,
    interpret_rules,
    sanitize_update,
)
from promptloop.representation.plan import MusicPlan
from promptloop.representation.plan_checks import HEADROOM_LU
from promptloop.representation.vocabulary import GENRES, HARSH_SOUNDS
from promptloop.session.loop import LoopSession

__all__ = ["MAX_MESSAGE_CHARS", "apply_update", "chat_state", "interpret"]


def chat_state(session: LoopSession) -> ChatState:
    """What a chat interpreter may know of ``session``: affect, preferences, the plans so far."""
    plans = tuple(
        MusicPlan.model_validate(r.record.attempts[r.record.chosen_attempt].plan) for r in session.results
    )
    return ChatState(session.listener, session.target, session.preferences, plans,
                     session.spec.preferences.loudness_ceiling_lufs)


def interpret(
    message: str, state: ChatState | LoopSession, planner: ChatInterpreter | None = None
) -> ChatUpdate:
    """Rules first; free text the rules cannot read goes to ``planner`` (the LLM planner) if given.

    ``state`` may be a running :class:`~promptloop.session.loop.LoopSession`; its planner then reads free
    text when it can (the ``llm`` planner can, the rule planner cannot).  A model failure or
    time-out gives a not-understood update, never an exception.
    """
    if not isinstance(state, ChatState):
        session = state
        state = chat_state(session)
        if planner is None and isinstance(session.planner, ChatInterpreter):
            planner = session.planner
    if not isinstance(message, str) or not message.strip():
        raise InputError("a chat message must be non-empty text")
    if len(message) > MAX_MESSAGE_CHARS:
        raise InputError(f"chat message too long ({len(message)} > {MAX_MESSAGE_CHARS} characters)")
    update = sanitize_update(interpret_rules(message, state), state)
    if update.understood or planner is None:
        return update
    try:
        llm_update = planner.interpret_chat(message, state)
    except PromptloopError:
        llm_update = None
    if llm_update is None:
        return ChatUpdate(understood=False, source="llm")
    return sanitize_update(llm_update.model_copy(update={"source": "llm"}), state)


def _plus(affect: Affect, shift: tuple[float, float]) -> Affect:
    return Affect.clipped(affect.valence + shift[0], affect.arousal + shift[1])


def apply_update(session: LoopSession, update: ChatUpdate) -> list[str]:
    """Apply a (sanitised) update between segments; return one short line per change made."""
    state = chat_state(session)
    update = sanitize_update(update, state)
    changes: list[str] = []
    if not update.understood:
        return changes
    prefs = session.preferences
    cap = session.spec.preferences.loudness_ceiling_lufs
    avoid = list(prefs.avoid)
    instruments, genres, extra = list(prefs.instruments), list(prefs.genres), list(prefs.extra)
    gentle = prefs.gentle or bool(update.gentle)
    for term in update.avoid:
        if term not in avoid:
            avoid.append(term)
            changes.append(f"avoiding {term}")
    liked = list(update.prefer)
    if update.like_segment is not None:
        plan = state.segments[update.like_segment]
        liked += [t for t in (*plan.instruments, *plan.textures, plan.genre) if t]
        changes.append(f"more like segment {update.like_segment + 1}")
    banned = set(avoid) | (HARSH_SOUNDS if gentle else set())
    for term in liked:
        if term in banned or term in update.unprefer:
            continue
        bucket = genres if term in GENRES else instruments
        if term not in bucket:
            bucket.append(term)
            changes.append(f"adding {term}")
    for term in update.unprefer:
        for bucket in (instruments, genres):
            if term in bucket:
                bucket.remove(term)
                changes.append(f"less {term}")
    instruments = [t for t in instruments if t not in banned]
    genres = [t for t in genres if t not in banned]
    extra = [t for t in extra if t not in banned]
    if update.gentle and not prefs.gentle:
        changes.append("gentle mode on")
    ceiling = prefs.loudness_ceiling_lufs
    if update.loudness_db is not None:
        base = ceiling
        if update.loudness_db < 0 and session.results:
            # "Too loud" is about what the listener hears: quieter than the last segment, not just a
            # lower ceiling (a -14 LUFS ceiling over a -22 LUFS segment would change nothing).
            base = min(ceiling, session.results[-1].record.loudness_lufs + HEADROOM_LU)
        ceiling = round(max(-60.0, min(cap, base + update.loudness_db)), 1)
        if ceiling != prefs.loudness_ceiling_lufs:
            changes.append(f"loudness ceiling {prefs.loudness_ceiling_lufs:.0f} -> {ceiling:.0f} LUFS")
        else:
            changes.append("loudness unchanged: already at the session's limit")
    new = replace(
        prefs, instruments=tuple(instruments), genres=tuple(genres), avoid=tuple(avoid),
        loudness_ceiling_lufs=ceiling, gentle=gentle, extra=tuple(extra),
    )
    if new != prefs:
        session.update_preferences(new, source="chat")
    if update.feeling is not None:
        session.update_listener(AFFECT_WORDS[update.feeling], source="chat")
        changes.append(f"listener feels {update.feeling}")
    elif update.listener_shift is not None:
        session.update_listener(_plus(session.listener, update.listener_shift), source="chat")
        changes.append("listener state updated")
    if update.target is not None:
        session.update_target(AFFECT_WORDS[update.target], source="chat")
        changes.append(f"heading for {update.target}")
    elif update.target_shift is not None:
        session.update_target(_plus(session.target, update.target_shift), source="chat")
        changes.append("target " + ("calmer" if update.target_shift[1] < 0 else "more energetic"))
    return changes
