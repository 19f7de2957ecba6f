"""The seam between the service and the chat interpreter (:mod:`promptloop.session.chat`).

The interpreting belongs to :mod:`promptloop.session.chat`; this only turns its list of changes into the
one-line reply the listener sees.
"""

from __future__ import annotations

from promptloop.session.chat import apply_update, interpret
from promptloop.session.loop import LoopSession

__all__ = ["interpret_and_apply"]

NOT_UNDERSTOOD = ("I did not catch anything to change. You can say things like 'too loud', "
                  "'no drums', 'more piano', 'I feel calmer' or 'help me sleep'.")


def interpret_and_apply(session: LoopSession, text: str) -> tuple[str, list[str]]:
    """Apply what ``text`` asks to ``session``; return the reply and one line per change."""
    update = interpret(text, session)
    changes = apply_update(session, update)
    if not changes:
        return NOT_UNDERSTOOD, []
    return "Changed: " + "; ".join(changes) + ". The next segment follows this.", changes
