"""Start-up recovery of the audio folder after a crash (the database is the truth).

A process killed mid-segment can leave a temporary ``.*.part`` file, a segment or mix file written
for a segment whose row was never committed, or the folder of a session whose deletion was cut
short.  :func:`sweep_audio` removes all three, so every file left belongs to a committed segment and
every committed segment keeps its file.  Interrupted jobs are marked failed by the service itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session as DB

from promptloop.service.files import SessionFiles
from promptloop.service.store import SessionRow

__all__ = ["sweep_audio"]


def sweep_audio(db: DB, data_dir: Path) -> dict[str, int]:
    """Tidy every session's audio to its committed segments; how many paths were removed, by kind."""
    removed = {"partial": 0, "uncommitted": 0, "orphaned": 0}
    root = Path(data_dir) / "audio"
    if not root.is_dir():
        return removed
    for part in root.rglob(".*.part"):
        part.unlink(missing_ok=True)
        removed["partial"] += 1
    known = {(str(user_id), session_id): done for session_id, user_id, done in
             db.execute(select(SessionRow.id, SessionRow.user_id, SessionRow.segments_done))}
    for user_dir in root.iterdir():
        if not user_dir.is_dir() or not user_dir.name.isdigit():
            continue
        for folder in user_dir.iterdir():
            done = known.get((user_dir.name, folder.name))
            if done is None:
                shutil.rmtree(folder, ignore_errors=True) if folder.is_dir() else folder.unlink(missing_ok=True)
                removed["orphaned"] += 1
                continue
            files = SessionFiles(Path(data_dir), int(user_dir.name), folder.name)
            before = sum(1 for p in folder.rglob("*") if p.is_file())
            files.tidy(done)
            removed["uncommitted"] += before - sum(1 for p in folder.rglob("*") if p.is_file())
    return removed
