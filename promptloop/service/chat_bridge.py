"""The narrow seam between the service and the chat interpreter (:mod:`promptloop.chat`).

The service only needs: given a live session and a listener's message, change the session as the
message asks and say, in one reply and a list of changes, what changed.  The interpreting itself
belongs to :mod:`promptloop.chat`; nothing of it is repeated here.
"""

from __future__ import annotations

from typing import Any

from promptloop.errors import BackendUnavailable
from promptloop.loop import LoopSession

__all__ = ["interpret_and_apply"]


def interpret_and_apply(session: LoopSession, text: str) -> tuple[str, list[dict[str, Any]]]:
    try:
        from promptloop import chat
    except ImportError as exc:  # pragma: no cover - only before the chat module exists
        raise BackendUnavailable("chat interpretation is not available in this build (promptloop.chat missing)") from exc
    update = chat.interpret(text, session)
    chat.apply_update(session, update)
    reply = getattr(update, "reply", None) or "Noted."
    changes = [c if isinstance(c, dict) else {"what": str(c)} for c in getattr(update, "changes", [])]
    return reply, changes
