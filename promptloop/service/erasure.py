"""What erasing a session or an account removes beyond its rows and audio files.

The embedded synthesizer maps a listener's own words ("cello", "waterfall") onto its vocabulary by
MiniLM embedding, and the process-wide embedder caches every text it embedded.  Those words come from
the listener's preferences and prompts, so erasure drops them from the cache too.  The per-user
usage ledger (:mod:`.limits`) goes with the account.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session as DB

from promptloop.service.limits import UsageRow
from promptloop.service.store import SegmentRow, SessionRow

__all__ = ["forget_sessions", "forget_user", "listener_texts"]

_WORD = re.compile(r"[a-z][a-z-]{2,}")


def listener_texts(db: DB, session_ids: Iterable[str]) -> set[str]:
    """Every prompt and preference of these sessions, whole and word by word (as embedded)."""
    texts: set[str] = set()
    for session_id in session_ids:
        row = db.get(SessionRow, session_id)
        if row is not None:
            texts.update(_strings(row.state.get("preferences", {})))
        for record in db.scalars(select(SegmentRow.record).where(SegmentRow.session_id == session_id)):
            texts.update(_strings([record.get("prompt", ""), [a.get("prompt", "") for a in record.get("attempts", [])]]))
    words = {w for t in texts for w in _WORD.findall(t.lower())}
    return texts | {t.lower() for t in texts} | words


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _forget_embeddings(texts: set[str]) -> int:
    from promptloop.representation.text_embedding import get_embedder

    if not texts or get_embedder.cache_info().currsize == 0:
        return 0  # never loaded in this process: nothing cached
    return get_embedder().forget(texts)


def forget_sessions(db: DB, session_ids: Iterable[str]) -> int:
    """Before a session's rows are deleted: drop its cached embeddings; how many went."""
    return _forget_embeddings(listener_texts(db, list(session_ids)))


def forget_user(db: DB, user_id: int, session_ids: Iterable[str]) -> int:
    """Before an account's rows are deleted: its cached embeddings and its usage ledger."""
    db.execute(delete(UsageRow).where(UsageRow.user_id == user_id))
    return forget_sessions(db, session_ids)
