"""The `synthese` command: parses options and calls the stage functions; nothing more.

Heavy libraries are imported inside the commands so that `--help` answers at once.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from pathlib import Path

import click

from . import __version__
from .core.errors import SyntheseError

log = logging.getLogger("synthese")


class SyntheseGroup(click.Group):
    """Turns library errors into one `Error: ...` line and exit code 1 (traceback with --debug)."""

    def main(self, *args, **kwargs):
        # Usage errors keep click's message but exit 1 like every other error (click says 2).
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.ClickException as exc:
            exc.show()
            # `synthese` alone shows the help: not an error.
            sys.exit(0 if type(exc).__name__ == "NoArgsIsHelpError" else 1)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("Error: interrupted. Finished stages are kept; run the same command again to resume.", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - last line of defence for users
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            from .core.environment import describe_os_error
            from .core.limits import shorten, terminal_safe

            plain = describe_os_error(exc) if isinstance(exc, OSError) else None
            if isinstance(exc, SyntheseError):
                message = f"Error: {exc}"
            elif plain:
                message = f"Error: {plain}"
            else:
                message = (f"Error: unexpected {type(exc).__name__}: {shorten(exc, 200)}. Run again with --debug "
                           "for details and report it.")
            click.echo(terminal_safe(message), err=True)
            sys.exit(1)


class TerminalFormatter(logging.Formatter):
    """Log lines with control characters escaped: messages quote file names, themes and names
    written by hand, which must not reach the terminal as escape sequences."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        from .core.limits import terminal_safe

        return terminal_safe(super().formatMessage(record))


def _setup_logging(quiet: bool, debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TerminalFormatter("%(message)s"))
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO)


@click.group(cls=SyntheseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(path_type=Path), default="config.yaml",
              show_default=True, help="The cycle's configuration file.")
@click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors; no progress bars.")
@click.option("--debug", is_flag=True, help="Show tracebacks and detailed logs.")
@click.version_option(__version__, prog_name="synthese")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, quiet: bool, debug: bool) -> None:
    """Synthèse: from a webinar replay to a published synthesis organised by theme.

    Stages: transcribe -> tag -> render -> publish. `synthese run` does them all for every
    session in config.yaml, skipping what is up to date.
    """
    _setup_logging(quiet, debug)
    ctx.obj = {"config_path": config_path, "quiet": quiet, "debug": debug}


def _config(ctx: click.Context):
    from .core.config import load_config

    return load_config(ctx.obj["config_path"])


def _workspace_lock(config, *paths: Path | None):
    """The workspace lock when a command reads or writes inside the config's folder (as `run`
    does), so that it never works on files a run is writing; no lock for files elsewhere."""
    from .workspace import Workspace

    root = config.root.resolve()
    if any(path is not None and path.resolve().is_relative_to(root) for path in paths):
        return Workspace(config).lock()
    return contextlib.nullcontext()


@cli.command()
@click.argument("session_ids", nargs=-1)
@click.option("--force", is_flag=True, help="Redo every stage even if up to date.")
@click.pass_context
def run(ctx: click.Context, session_ids: tuple[str, ...], force: bool) -> None:
    """Run every stage for the sessions in config.yaml (all, or SESSION_IDS) and publish."""
    from .run import run_all

    report = run_all(_config(ctx), list(session_ids) or None, force=force, quiet=ctx.obj["quiet"])
    if report.failed:
        failed = ", ".join(report.failed)
        raise SyntheseError(f"{len(report.failed)} session(s) failed: {failed} (see the messages above); "
                            "the others are published.")
    if not any(report.done.values()) and not report.published:
        log.info("Everything is up to date.")


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output-dir", type=click.Path(path_type=Path), default=Path("transcripts"),
              show_default=True, help="Where to write <stem>.transcript.json, .vtt, .srt and .txt.")
@click.option("--model", help="Whisper model: base, small, medium, large-v3, turbo, or a CTranslate2 folder.")
@click.option("--language", help="Spoken language (default from config.yaml: fr).")
@click.option("--speakers", type=click.IntRange(1, 30),
              help="Number of voices to find in the recording (default from config.yaml: estimated).")
@click.pass_context
def transcribe(ctx: click.Context, inputs: tuple[Path, ...], output_dir: Path, model: str | None,
               language: str | None, speakers: int | None) -> None:
    """Transcribe replays (audio/video) or import transcripts (VTT, SRT, TXT, DOCX, JSON)."""
    from .files import transcribe_files

    transcribe_files(list(inputs), _config(ctx), output_dir=output_dir, model=model, language=language,
                     speakers=speakers, quiet=ctx.obj["quiet"])


@cli.command()
@click.argument("transcript", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", type=click.Path(path_type=Path),
              help="Output folder (or, with --passages, the output JSONL file).")
@click.option("--passages", type=click.Path(path_type=Path),
              help="Classify fixed passages from a JSONL file of {\"id\", \"text\"} rows instead.")
@click.option("--export-labels", type=click.Path(path_type=Path),
              help="Write the reviewed passages of a <session>.tags.json (given instead of a transcript) "
                   "to this JSONL file, as labels for `synthese calibrate`.")
@click.option("--every-passage", is_flag=True, help="With --export-labels: every passage of a reviewed "
              "session, not only those with a decision.")
@click.pass_context
def tag(ctx: click.Context, transcript: Path | None, output: Path | None, passages: Path | None,
        export_labels: Path | None, every_passage: bool) -> None:
    """Split a transcript into passages and tag them by theme (writes <stem>.tags.json)."""
    from .files import classify_file, tag_file

    if export_labels:
        from .files import export_labels_file

        if transcript is None:
            raise SyntheseError("--export-labels needs the <session>.tags.json to export from.")
        export_labels_file(transcript, export_labels, every_passage=every_passage)
        return
    config = _config(ctx)
    if passages:
        if output is None:
            raise SyntheseError("--passages needs -o OUT.jsonl, the file to write the themes to.")
        classify_file(passages, output, config)
    elif transcript:
        with _workspace_lock(config, transcript, output):
            tag_file(transcript, config, output_dir=output)
    else:
        raise SyntheseError("give a TRANSCRIPT.json to tag, or --passages IN.jsonl -o OUT.jsonl.")


@cli.command()
@click.argument("labels", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="The weights file to write (YAML); point tag.weights_file in config.yaml at it to use it.")
@click.pass_context
def calibrate(ctx: click.Context, labels: tuple[Path, ...], output: Path) -> None:
    """Estimate the keywords' weights from labelled passages (JSONL: id, text, themes)."""
    from .files import calibrate_files

    calibrate_files(list(labels), output, _config(ctx))


@cli.command()
@click.argument("tags", type=click.Path(path_type=Path))
@click.option("-o", "--output-dir", type=click.Path(path_type=Path), help="Where to write the documents.")
@click.option("--formats", default=None, help="Comma-separated: pdf,docx,odt,html (default from config.yaml).")
@click.pass_context
def render(ctx: click.Context, tags: Path, output_dir: Path | None, formats: str | None) -> None:
    """Render a tagged session as PDF, DOCX and HTML."""
    from .files import render_file

    chosen = [f.strip() for f in formats.split(",") if f.strip()] if formats else None
    config = _config(ctx)
    with _workspace_lock(config, tags, output_dir):
        render_file(tags, config, output_dir=output_dir, formats=chosen)


@cli.command()
@click.pass_context
def publish(ctx: click.Context) -> None:
    """Build the readers' site in outputs/ from the rendered sessions (atomically)."""
    from .stages import publish_workspace
    from .workspace import Workspace

    ws = Workspace(_config(ctx))
    with ws.lock():
        site = publish_workspace(ws)
    log.info("Published %d session(s) to %s", len(site.sessions), ws.outputs_dir)


@cli.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Show, per session, which stages are done, stale or missing."""
    from .core.limits import terminal_safe
    from .stages import STAGE_NAMES, CycleRun, status
    from .workspace import Workspace

    ws = Workspace(_config(ctx))
    rows = status(ws)
    width = max([len("session"), *(len(i) for i, _ in rows)])
    click.echo(f"{'session':<{width}}  " + "  ".join(f"{s:<10}" for s in STAGE_NAMES))
    for session_id, states in rows:
        click.echo(f"{session_id:<{width}}  " + "  ".join(f"{states[s]:<10}" for s in STAGE_NAMES))
    click.echo(terminal_safe(f"site ({ws.outputs_dir.name}/): {CycleRun(ws).publish_state()}"))
    _review_lines(ws, width)
    for session in ws.config.sessions:
        try:
            ws.config.source_of(session)
        except SyntheseError as exc:
            click.echo(terminal_safe(f"Warning: session {session.id}: {exc}"), err=True)
        for note in ws.notes(session):
            click.echo(terminal_safe(f"Note: session {session.id}: {note}"))


def _review_lines(ws, width: int) -> None:
    """Per session, where its review stands and what is left to review (the wording's French)."""
    from .core.limits import terminal_safe
    from .stages import describe_review, review_status

    wording = ws.config.templates.wording()
    click.echo(wording["review_state"]["title"])
    for session in ws.config.sessions:
        click.echo(terminal_safe(f"  {session.id:<{width}}  {describe_review(review_status(ws, session), wording)}"))


@cli.command()
@click.argument("session_id")
@click.option("--by", "by", default=None, help="Who approves (default: this computer's user).")
@click.pass_context
def approve(ctx: click.Context, session_id: str, by: str | None) -> None:
    """Approve a reviewed session: its documents are then published as final, dated of today,
    until its transcript, decisions or voices' names change again."""
    from .review.approve import approve_session, default_approver
    from .stages import describe_review, review_status
    from .workspace import Workspace

    ws = Workspace(_config(ctx))
    session = ws.config.session(session_id)
    approve_session(ws, session, by if by is not None else default_approver())
    click.echo(f"{session.id}: {describe_review(review_status(ws, session), ws.config.templates.wording())}")
    log.info("Run `synthese run` to render its documents as final and publish them.")


@cli.command()
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.pass_context
def serve(ctx: click.Context, port: int) -> None:
    """Preview the published site on http://127.0.0.1:PORT/.

    A preview on this computer: the site in outputs/ is static (HTML, CSS, images, downloads; no
    script), so any web server can host that folder as it is.
    """
    from .serve import serve_site
    from .workspace import Workspace

    serve_site(Workspace(_config(ctx)).outputs_dir, port)


@cli.command()
@click.argument("session_id", required=False)
@click.option("--port", default=0, type=click.IntRange(0, 65535),
              help="Port on 127.0.0.1 (default: a free one).")
@click.option("--no-browser", is_flag=True, help="Do not open the page in the browser; the address is printed.")
@click.pass_context
def review(ctx: click.Context, session_id: str | None, port: int, no_browser: bool) -> None:
    """Review a session on a local web page: listen, correct words, name the voices, judge themes
    and quotes, preview and publish. Every change is saved at once in its review file."""
    from .review.app import serve_review

    serve_review(_config(ctx), session_id, port=port, open_browser=not no_browser)


@cli.group(invoke_without_command=True)
@click.pass_context
def voices(ctx: click.Context) -> None:
    """List the voice profiles (voices.json): the voices named in the cycle's sessions, remembered
    to recognise them in the others when `voices.remember: true` in config.yaml. They are
    biometric data: never published; `synthese voices forget NAME` deletes one."""
    if ctx.invoked_subcommand is not None:
        return
    from .voices import summaries
    from .workspace import Workspace, voices_file

    config = _config(ctx)
    profiles = summaries(Workspace(config))
    state = "on" if config.voices.remember else "off: nothing is remembered nor recognised"
    click.echo(f"voices.remember: {state}")
    if not profiles:
        click.echo(f"No voice profile ({voices_file(config).name} holds none).")
        return
    click.echo(f"{len(profiles)} voice profile(s) in {voices_file(config)}:")
    for profile in profiles:
        recognised = f"; recognised in {', '.join(profile.recognised_in)}" if profile.recognised_in else ""
        click.echo(f"  {profile.name}: named in {', '.join(profile.sessions)} ({profile.prints} voice prints)"
                   f"{recognised}; last used {profile.last_used[:16].replace('T', ' ')}")


@voices.command()
@click.argument("name")
@click.pass_context
def forget(ctx: click.Context, name: str) -> None:
    """Delete NAME's voice prints everywhere they are stored: the profile in voices.json and
    the voice prints of the voices named or recognised so in the transcripts."""
    from .voices import forget as forget_voice
    from .workspace import Workspace

    ws = Workspace(_config(ctx))
    with ws.lock():
        done = forget_voice(ws, name)
    if done.prints:
        click.echo(f"Deleted the voice profile of {done.name}: {done.prints} voice prints from "
                   f"{', '.join(done.sessions)}.")
    if done.cleared:
        click.echo(f"Deleted the voice prints of {done.name}'s voice from the transcripts of {', '.join(done.cleared)}.")
    if done.retag:
        click.echo(f"{', '.join(done.retag)}: named {done.name} by recognition; `synthese run` takes the name "
                   "out of their documents.")
    click.echo(f"To never remember {done.name} again, add the name to voices.exclude in config.yaml.")


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
def init(folder: Path) -> None:
    """Create a new cycle's folder: a commented config.yaml with the codebook, transcripts/, outputs/."""
    from .scaffold import create_cycle_folder

    config = create_cycle_folder(folder)
    log.info("Created %s. Edit it (the cycle, its sessions), put the replays in %s, then run:\n"
             "  synthese --config %s run", config, folder / "transcripts", config)


def main() -> None:
    cli(prog_name="synthese")


if __name__ == "__main__":
    main()
