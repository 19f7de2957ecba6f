"""Chat interpretation by the ``llm`` planner: what the model is asked to write for one message,
the prompt's variables, and the update built from its (untrusted) answer.

The update is sanitised by :func:`promptloop.feedback.chat_rules.sanitize_update` before use, so
whatever the model writes can only make the music safer.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from promptloop.acquisition.affect import Affect, describe_affect
from promptloop.feedback.base import ChatState, ChatUpdate

__all__ = ["ChatDraft", "affect_text", "chat_prompt_variables", "update_from_draft"]


class ChatDraft(BaseModel):
    """What the model is asked to write for one chat message."""

    model_config = ConfigDict(extra="ignore")

    understood: bool = Field(description="false when the message asks for nothing you can do")
    feeling: str | None = Field(default=None, description="the listener's state now, one affect word")
    valence_shift: float | None = Field(default=None, description="change of the listener's valence")
    arousal_shift: float | None = Field(default=None, description="change of the listener's arousal")
    target: str | None = Field(default=None, description="new session goal, one affect word")
    avoid: list[str] = Field(default_factory=list, description="sounds to stop playing")
    prefer: list[str] = Field(default_factory=list, description="sounds the listener asks for")
    less: list[str] = Field(default_factory=list, description="liked sounds to use less")
    loudness_db: float | None = Field(default=None, description="-3 for quieter, +3 for louder")
    gentle: bool | None = Field(default=None, description="true if sounds hurt or feel harsh")
    like_segment: int | None = Field(default=None, description="1-based number of a segment to resemble")


def affect_text(a: Affect) -> str:
    """An affect as the prompt templates show it."""
    return f"valence {a.valence:+.2f}, arousal {a.arousal:+.2f} ({describe_affect(a)})"


def chat_prompt_variables(message: str, state: ChatState) -> dict[str, str]:
    """The ``interpret_chat`` template's variables (no audio, no raw readings)."""
    prefs = state.preferences
    return {
        "listener": affect_text(state.listener),
        "target": affect_text(state.target),
        "segments": "\n".join(f"{i + 1}. {p.prompt}" for i, p in enumerate(state.segments)) or "none yet",
        "preferences": (f"likes: {', '.join((*prefs.instruments, *prefs.genres)) or 'nothing named'}; "
                        f"avoids: {', '.join(sorted(prefs.forbidden)) or 'nothing'}; "
                        f"ceiling {prefs.loudness_ceiling_lufs:g} LUFS; gentle {'on' if prefs.gentle else 'off'}"),
        "message": message,
    }


def update_from_draft(d: ChatDraft) -> ChatUpdate:
    """The model's answer as an (unsanitised) update."""
    shift = (d.valence_shift or 0.0, d.arousal_shift or 0.0)
    return ChatUpdate(
        understood=d.understood, source="llm", feeling=(d.feeling or "").strip().lower() or None,
        listener_shift=shift if shift != (0.0, 0.0) else None,
        target=(d.target or "").strip().lower() or None,
        avoid=tuple(d.avoid), prefer=tuple(d.prefer), unprefer=tuple(d.less),
        loudness_db=d.loudness_db, gentle=d.gentle,
        like_segment=d.like_segment - 1 if d.like_segment is not None else None,
    )
