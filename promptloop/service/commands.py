"""What ``promptloop serve``, ``promptloop users`` and ``promptloop chat`` do (the CLI holds only
thin commands)."""

from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import typer

from promptloop.acquisition.affect import parse_affect
from promptloop.errors import BackendUnavailable, InputError
from promptloop.representation.preferences import Preferences, parse_tempo_range
from promptloop.service.engine import Service, ServiceConfig
from promptloop.service.store import User
from promptloop.service.workers import WorkerPool
from promptloop.wiring.settings import Settings

__all__ = ["make_pool", "open_service", "run_chat", "run_serve", "users_add", "users_list", "users_role"]


def make_pool(kind: str, config: ServiceConfig) -> WorkerPool | None:
    """``inprocess`` (threads here; None lets the service build it) or ``ray`` (Ray actors)."""
    if kind == "inprocess":
        return None
    if kind == "ray":
        from promptloop.service.ray_pool import RayPool

        return RayPool(workers=config.workers, queue_size=config.queue_size, address=os.environ.get("RAY_ADDRESS"))
    raise InputError(f"unknown worker pool {kind!r}; choose inprocess or ray")


def open_service(data_dir: Path | None = None, database_url: str | None = None, workers: str = "inprocess") -> Service:
    settings = Settings()
    config = ServiceConfig.from_settings(settings, data_dir=data_dir, database_url=database_url)
    return Service(config, settings, pool=make_pool(workers, config))


def _local_name() -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "", getpass.getuser() or "")[:64]
    return name if name and name[0].isalnum() else "local"


def run_serve(host: str, port: int, workers: str, data_dir: Path | None, database_url: str | None) -> None:
    """Run the HTTP server.  The server is an app on top of the library, found through the
    ``promptloop.apps`` entry point ``serve`` so that nothing in promptloop imports it."""
    serve = _app_entry_point("serve")
    service = open_service(data_dir, database_url, workers)
    base = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    if service.user_count() == 0:
        user, token = service.create_user(_local_name())
        typer.echo(f"created user {user.name!r}; open the chat page at:\n\n    {base}/chat#token={token}\n")
        typer.echo("(the token is shown once; `promptloop users add NAME` makes more)")
    else:
        typer.echo(f"open {base}/chat and sign in with your token")
    typer.echo(f"data: {service.config.data_dir}  workers: {service.pool.kind}")
    serve(service, host=host, port=port)


def _app_entry_point(name: str) -> Any:
    from importlib.metadata import entry_points

    found = entry_points(group="promptloop.apps", name=name)
    if not found:
        raise BackendUnavailable(f"no {name!r} app is installed: pip install 'promptloop[server]'")
    try:
        return next(iter(found)).load()
    except ImportError as exc:
        raise BackendUnavailable(f"the {name!r} app needs {exc.name}: pip install 'promptloop[server]'") from exc


def users_add(name: str, data_dir: Path | None, database_url: str | None, role: str = "listener") -> None:
    from promptloop.service.clinical.roles import ROLES

    if role not in ROLES:
        raise InputError(f"roles are {', '.join(ROLES)}; got {role!r}")
    service = open_service(data_dir, database_url)
    try:
        user, token = service.create_user(name)
        if role != "listener":
            _set_role(service, name, role)
        typer.echo(token)
        typer.echo(f"created {role} {user.name!r} (id {user.id}); the token above is shown only once", err=True)
    finally:
        service.close()


def _set_role(service: Service, name: str, role: str) -> None:
    from promptloop.service.clinical import Clinical

    Clinical(service).set_role(None, name, role)


def users_role(name: str, role: str, data_dir: Path | None, database_url: str | None) -> None:
    service = open_service(data_dir, database_url)
    try:
        _set_role(service, name, role)
        typer.echo(f"{name} is now a {role}", err=True)
    finally:
        service.close()


def keys_rotate(data_dir: Path | None, database_url: str | None) -> None:
    from promptloop.service.rotation import rotate_keys

    config = ServiceConfig.from_settings(Settings(), data_dir=data_dir, database_url=database_url)
    counts = rotate_keys(config.data_dir, config.database_url)
    rows = ", ".join(f"{n} {table}" for table, n in counts.items() if table not in ("files", "old_keys"))
    typer.echo(f"re-sealed {rows} and {counts['files']} files with a new key; "
               f"{counts['old_keys']} old key(s) removed from {Path(config.data_dir) / 'secret.key'}")


def users_list(data_dir: Path | None, database_url: str | None) -> None:
    service = open_service(data_dir, database_url)
    try:
        for u in service.list_users():
            typer.echo(f"{u['id']}\t{u['name']}\t{u['created']:%Y-%m-%d %H:%M}")
    finally:
        service.close()


def _player() -> list[str] | None:
    for cmd in (["aplay", "-q"], ["paplay"], ["afplay"], ["ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet"]):
        if shutil.which(cmd[0]):
            return cmd
    return None


def _wait(service: Service, user: User, job_id: str) -> dict[str, Any]:
    while True:
        job = service.get_job(user, job_id)
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.2)


def _live_chat(service: Service, user: User, session: dict[str, Any], out: Path, player: list[str] | None) -> None:
    """Live: segments are made just ahead of playback (the session's lookahead) and play one after
    another on the wall clock (through ``player`` when there is one); every line typed meanwhile is a
    chat message that reaches the next segment the listener hears."""
    from promptloop.service.lookahead import LiveRunner, Lookahead

    sid = session["id"]

    def make_segment() -> dict[str, Any] | None:
        if service.get_session(user, sid)["segments_done"] >= session["segments"]:
            return None
        job = _wait(service, user, service.generate(user, sid, 1)["id"])
        if job["status"] != "succeeded":
            raise RuntimeError(f"generation {job['status']}: {job['error']}")
        seg = service.list_segments(user, sid)[-1]
        _save_plain(service, service.audio_file(user, sid, seg["index"], "wav"), out / f"{seg['index']:02d}.wav")
        return seg

    def queued(seg: dict[str, Any], at: float) -> None:
        path = out / f"{seg['index']:02d}.wav"
        typer.echo(f"\n[{seg['index'] + 1}/{session['segments']}] plays in {max(0.0, at - runner.queue.clock()):.1f} s"
                   f"  {seg['prompt']}  → {path}")
        if player:
            timer = threading.Timer(max(0.0, at - runner.queue.clock()), subprocess.Popen, args=([*player, str(path)],),
                                    kwargs={"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL})
            timer.daemon = True
            timer.start()

    crossfade = float(session["settings"]["crossfade_seconds"])
    runner = LiveRunner(make_segment, Lookahead(float(session["live"]["lookahead_s"])), crossfade, on_queued=queued)
    typer.echo(f"live: the next segment is made {session['live']['lookahead_s']:.1f} s before the music runs out; "
               f"type how it feels at any time; {READING_HELP}; /quit ends")
    runner.start()
    try:
        while runner.running:
            try:
                line = input("you> ").strip()
            except EOFError:  # no more input: let the session play to its end
                runner.join()
                break
            if _chat_line(service, user, sid, line) == "quit":
                break
    finally:
        runner.stop()
        runner.join(timeout=120)
    if runner.error is not None:
        typer.echo(f"live session stopped: {runner.error}", err=True)


#: Short names a listener may type for a wearable's values (the full field names work too).
_READING_NAMES = {"hr": "heart_rate", "hrv": "hrv_rmssd", "rmssd": "hrv_rmssd", "eda": "skin_conductance",
                  "scl": "skin_conductance", "gsr": "skin_conductance"}
READING_HELP = "/reading hr=72 hrv=40 eda=5 gives a wearable's values"


def reading_command(text: str) -> dict[str, float]:
    """The readings in a ``/reading hr=72 hrv=40 eda=5`` line (heart rate in BPM, RMSSD in ms, skin
    conductance in µS, or any field of :class:`~promptloop.acquisition.physio.Readings` by name)."""
    from promptloop.acquisition.physio import Readings

    values: dict[str, float] = {}
    for part in text.split()[1:]:
        name, _, value = part.partition("=")
        try:
            values[_READING_NAMES.get(name.lower(), name.lower())] = float(value)
        except ValueError:  # no "=" leaves value empty, which float() refuses too
            raise InputError(f"{part!r}: a reading is name=number, e.g. hr=72") from None
    if not values:
        raise InputError(f"no values given; {READING_HELP}")
    Readings.from_dict(values)  # unknown fields and values out of range are refused here, in one line
    return values


def _chat_line(service: Service, user: User, session_id: str, line: str) -> str:
    """Act on one typed line (a chat message, a ``/reading``, ``/quit``): "quit", "done", or
    "again" when a ``/reading`` was refused (its one-line reason is printed)."""
    if line in ("/quit", "/q", "/exit"):
        return "quit"
    if line.split()[:1] == ["/reading"]:
        try:
            result = service.add_readings(user, session_id, [reading_command(line)])
        except InputError as exc:
            typer.echo(f"promptloop> {exc}", err=True)
            return "again"
        a = result["listener"]
        how = ("the closed loop reads it before the next segment" if result["closed_loop"]["active"]
               else "the next segment meets it")
        typer.echo(f"promptloop> reading taken: you seem at valence {a['valence']:+.2f}, arousal "
                   f"{a['arousal']:+.2f}; {how}")
    elif line:
        typer.echo(f"promptloop> {service.post_message(user, session_id, line)['reply']}")
    return "done"


def run_chat(args: dict[str, Any]) -> None:
    """A terminal conversation: each segment is saved (and played with --play) as it comes; a line
    of text is a chat message, an empty line asks for the next segment, /quit ends."""
    service = open_service(args["data_dir"], args["database_url"])
    try:
        users = service.list_users()
        if users:
            with service.db() as db:
                user = db.get(User, users[0]["id"])
            assert user is not None
        else:
            user, _token = service.create_user(_local_name())
        if args["session"]:
            session = service.get_session(user, args["session"])
        else:
            session = service.create_session(
                user, start=parse_affect(args["start"]), target=parse_affect(args["target"]),
                preferences=Preferences.build(args["prefer"], args["avoid"], gentle=args["gentle"],
                                              tempo_range_bpm=parse_tempo_range(args.get("tempo_range"))),
                title="terminal chat", segments=args["segments"], segment_seconds=args["segment_seconds"],
                seed=args["seed"],
                # short segments get a shorter crossfade rather than an error
                crossfade_seconds=min(service.settings.crossfade_seconds, args["segment_seconds"] / 4),
            )
        out = Path(args["out"]) / session["id"]
        out.mkdir(parents=True, exist_ok=True)
        player = _player() if args["play"] else None
        if args["play"] and player is None:
            typer.echo("no audio player found (aplay, paplay, afplay, ffplay): saving only", err=True)
        typer.echo(f"session {session['id']}: {session['segments']} segments; audio saved in {out}")
        pacing = session.get("pacing") or {}
        if pacing.get("steep"):
            typer.echo(f"note: {pacing['note']}", err=True)
        if args.get("live"):
            _live_chat(service, user, session, out, player)
            session = service.get_session(user, session["id"])
            args = {**args, "_done": True}
        else:
            typer.echo("type how it feels ('too loud', 'no drums', 'I feel calmer'); Enter = next segment; "
                       f"{READING_HELP}; /quit ends")
        while not args.get("_done") and session["segments_done"] < session["segments"]:
            job = service.generate(user, session["id"], 1)
            job = _wait(service, user, job["id"])
            if job["status"] != "succeeded":
                typer.echo(f"generation {job['status']}: {job['error']}", err=True)
                break
            session = service.get_session(user, session["id"])
            seg = service.list_segments(user, session["id"])[-1]
            path = out / f"{seg['index']:02d}.wav"
            _save_plain(service, service.audio_file(user, session["id"], seg["index"], "wav"), path)
            typer.echo(f"[{seg['index'] + 1}/{session['segments']}] score {seg['score']:.2f}  {seg['prompt']}  → {path}")
            if player:
                subprocess.Popen([*player, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if session["segments_done"] >= session["segments"]:
                break
            try:
                action = "again"
                while action == "again":  # a refused reading is asked for again before the next segment
                    action = _chat_line(service, user, session["id"], input("you> ").strip())
            except EOFError:
                break
            if action == "quit":
                break
        whole = out / "session.wav"
        if session["segments_done"]:
            _save_plain(service, service.audio_file(user, session["id"], None, "wav"), whole)
            typer.echo(f"session so far: {whole}")
    finally:
        service.close()


def _save_plain(service: Service, sealed: Path, dest: Path) -> None:
    """The listener's own copy of a sealed audio file, in the plain."""
    from promptloop.audio.io import atomic_write_bytes
    from promptloop.service.files import data_vault

    atomic_write_bytes(dest, data_vault(service.config.data_dir).read_file(sealed))
