"""The ``promptloop`` command line.  Errors become one line on stderr and a non-zero exit code."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from promptloop.errors import PromptloopError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Therapeutic music that adapts to a listener.")
F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Turn promptloop errors (and Ctrl-C) into one line and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PromptloopError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: nothing was written", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


@app.command()
@handle_errors
def session(
    start: Annotated[str, typer.Option(help="listener's state now: a word (anxious) or v=..,a=..")] = "neutral",
    target: Annotated[str, typer.Option(help="where the session should lead")] = "calm",
    out: Annotated[Path, typer.Option(help="output folder")] = Path("out/session"),
    prefer: Annotated[str, typer.Option(help="liked instruments, genres, textures (comma-separated)")] = "",
    avoid: Annotated[str, typer.Option(help="things never to play (comma-separated)")] = "",
    gentle: Annotated[bool, typer.Option(help="hyperacusis/misophonia/tinnitus mode: no sharp transients or harsh highs")] = False,
    loudness_ceiling: Annotated[float, typer.Option(help="loudness ceiling in LUFS")] = -14.0,
    tempo_range: Annotated[str | None, typer.Option(help="comfortable tempo range in BPM, e.g. 60-90: the music's tempo stays inside it")] = None,
    segments: Annotated[int, typer.Option(help="number of segments")] = 6,
    segment_seconds: Annotated[float, typer.Option(help="seconds per segment")] = 10.0,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same audio)")] = 0,
    candidates: Annotated[int | None, typer.Option(help="candidates generated per attempt (K)")] = None,
    max_retries: Annotated[int | None, typer.Option(help="rewrites allowed per segment")] = None,
    threshold: Annotated[float | None, typer.Option(help="score below which a segment is retried")] = None,
    seed_only_retries: Annotated[bool | None, typer.Option(help="also retry when the rewrite leaves the plan as it was (new seeds only; off by default)")] = None,
    prior: Annotated[Path | None, typer.Option(help="listener's own audio to continue from")] = None,
    readings: Annotated[Path | None, typer.Option(help="JSON with physiological readings (and optional baseline)")] = None,
    profile: Annotated[Path | None, typer.Option(help="listener profile JSON: used as a prior, updated after the session (created if missing)")] = None,
    generator: Annotated[str | None, typer.Option(help="generator backend")] = None,
    model: Annotated[str | None, typer.Option(help="musicgen/audiocraft model: folder, Hub id or small|medium|large|melody")] = None,
    planner: Annotated[str | None, typer.Option(help="planner backend")] = None,
    evaluator: Annotated[str | None, typer.Option(help="evaluator backend")] = None,
    llm_provider: Annotated[str | None, typer.Option(help="llm planner: ollama | openai | huggingface")] = None,
    llm_model: Annotated[str | None, typer.Option(help="llm planner: model name (a local folder for huggingface)")] = None,
    llm_base_url: Annotated[str | None, typer.Option(help="llm planner: server URL, e.g. http://127.0.0.1:11434")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace a non-empty output folder")] = False,
    plot: Annotated[bool, typer.Option(help="write overview.png")] = True,
) -> None:
    """Run one adaptive session and write session.wav, segments/ and session.json."""
    from promptloop.cli.session import run_cli_session

    run_cli_session(locals())


@app.command()
@handle_errors
def doctor() -> None:
    """List the backends and whether each is usable here."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from promptloop.wiring.registry import EVALUATORS, GENERATORS, PLANNERS
    from promptloop.wiring.settings import Settings

    settings = Settings()
    table = Table(title="promptloop backends")
    for column in ("kind", "name", "usable", "source", "detail"):
        table.add_column(column)
    for registry in (GENERATORS, PLANNERS, EVALUATORS):
        for status in registry.status(settings):
            # escape: details such as "pip install 'promptloop[audiocraft]'" are not rich markup
            table.add_row(status.kind, status.name, "yes" if status.usable else "no", status.source,
                          escape(status.detail))
    Console().print(table)
    from promptloop.synthesis.soundfont import soundfont_missing

    missing = soundfont_missing(settings.soundfont)
    if missing is None:
        Console().print(f"default generator: {settings.generator} (sampled instruments available)", markup=False)
    else:
        Console().print(f"default generator: {settings.generator}; for sampled instruments (the soundfont "
                        f"generator): {missing}", markup=False)


@app.command("warm-up")
@handle_errors
def warm_up() -> None:
    """Fill the on-disk caches a first session would fill (run by make setup): numba kernels,
    matplotlib's font list, the evaluator's caption vectors."""
    from promptloop.cli.warmup import run_warm_up

    typer.echo(run_warm_up())


@app.command()
@handle_errors
def schema() -> None:
    """Print the JSON schema of session.json."""
    from promptloop.session.provenance import SessionRecord

    typer.echo(json.dumps(SessionRecord.model_json_schema(), indent=2))


@app.command()
@handle_errors
def playlist(
    spec: Annotated[Path, typer.Argument(help="playlist spec file (.yaml or .json)")],
    out: Annotated[Path, typer.Option(help="output folder (re-run into the same folder to resume)")],
    engine: Annotated[str, typer.Option(help="local (process pool), ray, or serial (this process)")] = "local",
    workers: Annotated[int, typer.Option(help="worker processes or Ray actors; each loads the backends once")] = 2,
    address: Annotated[str | None, typer.Option(help="Ray cluster address (default: start a local Ray)")] = None,
) -> None:
    """Make a batch of tracks per listener along a planned arc: audio, M3U8 playlists and a report."""
    from promptloop.playlist.cli import run_cli_playlist

    code = run_cli_playlist(spec, out, engine, workers, address)
    if code:
        raise typer.Exit(code)


models_app = typer.Typer(no_args_is_help=True, help="MusicGen weights: list, pull, verify.")
app.add_typer(models_app, name="models")
_MODELS_DIR = Annotated[Path | None, typer.Option(help="Hugging Face cache folder (default: PROMPTLOOP_MODELS_DIR or HF_HOME)")]


@models_app.command("list")
@handle_errors
def models_list(models_dir: _MODELS_DIR = None) -> None:
    """Known MusicGen models and whether their weights are here."""
    from promptloop.cli.models import print_models

    print_models(models_dir)


@models_app.command("pull")
@handle_errors
def models_pull(name: Annotated[str, typer.Argument(help="small|medium|large|melody or a Hub id")],
                models_dir: _MODELS_DIR = None) -> None:
    """Download a model's weights (needs internet)."""
    from promptloop.cli.models import pull_command

    pull_command(name, models_dir)


@models_app.command("verify")
@handle_errors
def models_verify(name: Annotated[str | None, typer.Argument(help="model name, Hub id or folder")] = None,
                  models_dir: _MODELS_DIR = None,
                  device: Annotated[str | None, typer.Option(help="auto, cpu, cuda, cuda:N")] = None) -> None:
    """Load a model through the generator and generate one second."""
    from promptloop.cli.models import verify_command

    verify_command(name, models_dir, device)


_DATA_DIR = Annotated[Path | None, typer.Option(help="data folder (default: PROMPTLOOP_DATA_DIR)")]
_DB_URL = Annotated[str | None, typer.Option(help="SQLAlchemy URL (default: SQLite in the data folder)")]


@app.command()
@handle_errors
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    workers: Annotated[str, typer.Option(help="worker pool: inprocess or ray")] = "inprocess",
    data_dir: _DATA_DIR = None,
    database_url: _DB_URL = None,
) -> None:
    """Run the REST API and the chat page; on an empty store, create a user and print a login URL."""
    from promptloop.service.commands import run_serve

    run_serve(host, port, workers, data_dir, database_url)


users_app = typer.Typer(no_args_is_help=True, help="Accounts of the server.")
app.add_typer(users_app, name="users")


@users_app.command("add")
@handle_errors
def users_add(name: Annotated[str, typer.Argument(help="user name")], data_dir: _DATA_DIR = None,
              database_url: _DB_URL = None,
              role: Annotated[str, typer.Option(help="listener, therapist or admin")] = "listener") -> None:
    """Create a user and print a new API token (shown once)."""
    from promptloop.service.commands import users_add as add

    add(name, data_dir, database_url, role)


@users_app.command("role")
@handle_errors
def users_role(name: Annotated[str, typer.Argument(help="user name")],
               role: Annotated[str, typer.Argument(help="listener, therapist or admin")],
               data_dir: _DATA_DIR = None, database_url: _DB_URL = None) -> None:
    """Give a user a role (a role never opens anyone's data: therapists need the client's consent)."""
    from promptloop.service.commands import users_role as set_role

    set_role(name, role, data_dir, database_url)


@users_app.command("list")
@handle_errors
def users_list(data_dir: _DATA_DIR = None, database_url: _DB_URL = None) -> None:
    """List the users."""
    from promptloop.service.commands import users_list as list_users

    list_users(data_dir, database_url)


keys_app = typer.Typer(no_args_is_help=True, help="The encryption key of the server's data folder.")
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
@handle_errors
def keys_rotate(data_dir: _DATA_DIR = None, database_url: _DB_URL = None) -> None:
    """Seal all listener data with a new key and drop the old one (stop the server first)."""
    from promptloop.service.commands import keys_rotate as rotate

    rotate(data_dir, database_url)


@app.command()
@handle_errors
def chat(
    start: Annotated[str, typer.Option(help="listener's state now")] = "neutral",
    target: Annotated[str, typer.Option(help="where the session should lead")] = "calm",
    prefer: Annotated[str, typer.Option(help="liked sounds (comma-separated)")] = "",
    avoid: Annotated[str, typer.Option(help="sounds never to play (comma-separated)")] = "",
    gentle: Annotated[bool, typer.Option(help="hyperacusis/misophonia/tinnitus mode")] = False,
    tempo_range: Annotated[str | None, typer.Option(help="comfortable tempo range in BPM, e.g. 60-90")] = None,
    segments: Annotated[int, typer.Option(help="number of segments")] = 6,
    segment_seconds: Annotated[float, typer.Option(help="seconds per segment")] = 10.0,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    session: Annotated[str | None, typer.Option(help="continue this session id instead of starting one")] = None,
    out: Annotated[Path, typer.Option(help="folder where segments are saved as they come")] = Path("out/chat"),
    play: Annotated[bool, typer.Option(help="play each segment with a command-line player")] = False,
    live: Annotated[bool, typer.Option(help="make segments just ahead of playback; type messages any time")] = False,
    data_dir: _DATA_DIR = None,
    database_url: _DB_URL = None,
) -> None:
    """Talk to a session in the terminal: the same engine as the server and the chat page."""
    from promptloop.service.commands import run_chat

    run_chat(locals())


@app.command("eval")
@handle_errors
def eval_(
    suite: Annotated[str, typer.Argument(help="suite name in eval/scenarios (core) or a YAML path")],
    out: Annotated[Path, typer.Option(help="folder for results.json/csv, report.md and plots")] = Path("out/eval"),
    conditions: Annotated[list[str] | None, typer.Option(help="conditions to compare (repeat or comma-separate): static, loop-no-retry, loop-rule, loop-llm, loop-rule-closed, static-imperfect, loop-no-retry-imperfect, loop-rule-imperfect")] = None,
    seeds: Annotated[int | None, typer.Option(help="seeds per scenario (default: the suite's list)")] = None,
    scenarios: Annotated[int | None, typer.Option(help="run only the suite's first N scenarios (a quick check)")] = None,
    generator: Annotated[str | None, typer.Option(help="generator backend")] = None,
    evaluator: Annotated[str | None, typer.Option(help="evaluator backend")] = None,
    clap: Annotated[Path | None, typer.Option(help="local folder with a saved ClapModel: adds CLAP similarity")] = None,
    reference: Annotated[Path | None, typer.Option(help="folder of reference audio for Fréchet Audio Distance (needs --clap)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace a non-empty output folder")] = False,
    twins: Annotated[int, typer.Option(min=0, max=200, help="held-out twins for closed vs open loop (0: skip the twin study)")] = 24,
    personalised_twins: Annotated[int, typer.Option(min=0, max=100, help="twins for personalised vs fresh sessions")] = 24,
    twin_sessions: Annotated[int, typer.Option(min=1, max=10, help="sessions per twin in the personalisation study")] = 4,
) -> None:
    """Run a scenario suite under several conditions and write results and a report."""
    from promptloop.evaluation.run import run_eval
    from promptloop.evaluation.twin_sessions import TwinStudy

    study = None
    if twins or personalised_twins:
        study = TwinStudy(twins=twins, personalised_twins=personalised_twins, sessions_per_twin=twin_sessions)
    run_eval(suite, out, conditions=conditions, seeds=seeds, generator=generator, evaluator=evaluator,
             overwrite=overwrite, clap_dir=clap, reference_dir=reference, scenarios=scenarios,
             twin_study=study)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
