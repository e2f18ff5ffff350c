"""The ``monitor`` command line: parses arguments, calls the library, turns errors into one line.

Every command reads the configuration from ``--config PATH``, else ``$MONITOR_CONFIG``, else
``./monitor.toml``. ``--json`` output is one JSON document on stdout; logs go to stderr.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from monitor import __version__
from monitor.errors import MonitorError
from monitor.redact import RedactingFormatter
from monitor.sanitize import printable, printable_json

logger = logging.getLogger(__name__)


class Context:
    def __init__(self, config_path: str | None, debug: bool):
        self.config_path = config_path
        self.debug = debug

    def config(self, required: bool = True):
        """The configuration with every secret read: the daemon, and commands that send or check."""
        from monitor.config import load_config

        return load_config(self.config_path, required=required)

    def config_to_read(self, required: bool = True):
        """The configuration for a command that only reads: a secret not available here (the
        service's environment variable, a file only it may read) is said only if it is used."""
        from monitor.config import SECRETS_WHEN_NEEDED, load_config

        return load_config(self.config_path, required=required, secrets=SECRETS_WHEN_NEEDED)


pass_ctx = click.make_pass_decorator(Context)


def setup_logging(level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    # a URL's userinfo and query values (a password in base_url, a feed's ?key=) never reach a log line;
    # controls in a message are shown as escapes (see monitor.sanitize)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler", "urllib3", "slack_sdk"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", help="Configuration file (else $MONITOR_CONFIG, else ./monitor.toml).")
@click.option("-v", "--verbose", count=True, help="More log lines on stderr (-vv for debug).")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.version_option(__version__, prog_name="monitor")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int, debug: bool) -> None:
    """Monitor a school's social media: comments, mentions, abuse and acknowledgement deadlines."""
    level = logging.DEBUG if debug or verbose > 1 else logging.INFO if verbose else logging.WARNING
    setup_logging(level)
    ctx.obj = Context(config_path, debug)


@cli.command()
@pass_ctx
def run(ctx: Context) -> None:
    """Run the daemon: every source on its schedule, the SLA clock, the outbox and the digest."""
    from monitor.app.daemon import run_daemon

    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)
    run_daemon(ctx.config())


@cli.command()
@click.option("--source", "source_name", metavar="NAME", help="Poll only this source.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON document.")
@click.option("--no-send", is_flag=True, help="Queue the alerts only: leave them for `monitor run` to send.")
@pass_ctx
def poll(ctx: Context, source_name: str | None, as_json: bool, no_send: bool) -> None:
    """Poll every source (or one) once, send the urgent alerts it queued, print what was found, then exit."""
    from monitor.app.assembly import build_pipeline, open_store
    from monitor.notify.outbox import deliver_once

    config = ctx.config()
    names = [source_name] if source_name else [s.name for s in config.sources if s.enabled]
    for name in names:
        config.source(name)  # an unknown name is an error before anything is opened
    if not names:
        click.echo(f"no source to poll: {config.path} has no enabled [[sources]] "
                   "(config/monitor.example.toml shows one of each type)", err=True)
    store = open_store(config)
    try:
        pipeline = build_pipeline(config, store)
        results = [pipeline.poll(name) for name in names]
        delivery = deliver_once(store, config, send=not no_send)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in results], indent=2))
        if delivery["summary"]:
            click.echo(delivery["summary"], err=True)
    else:
        for r in results:
            if r.ok:
                click.echo(f"{r.source}: {r.fetched} fetched, {r.new} new, {r.flagged} flagged")
            else:
                click.echo(f"{r.source}: FAILED ({r.error_kind}): {printable(r.error)}")
        if delivery["summary"]:
            click.echo(delivery["summary"])
    if any(not r.ok for r in results):
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON document.")
@pass_ctx
def status(ctx: Context, as_json: bool) -> None:
    """Show each source's health (last success, last error, items), open cases and the outbox."""
    from monitor.app.assembly import open_store_to_report
    from monitor.app.status import collect_status, format_status

    config = ctx.config_to_read()
    store = open_store_to_report(config)
    try:
        snapshot = collect_status(config, store)
    finally:
        store.close()
    if as_json:
        click.echo(printable_json(snapshot, indent=2))
    else:
        click.echo(format_status(snapshot, config.school.tz))


@cli.command("check-config")
@pass_ctx
def check_config(ctx: Context) -> None:
    """Validate the configuration and check that every credential it names is present."""
    from monitor.app.checks import check_configuration, check_startup

    config = ctx.config()
    warnings, notes = check_configuration(config)
    problems, faults, more, model = check_startup(config)
    warnings += more
    notes[2:2] = model
    for note in notes:
        click.echo(note)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    for problem in problems + faults:
        click.echo(f"error: {problem}", err=True)
    if problems:
        click.echo(f"{config.path}: `monitor run` would not start ({_count(problems + faults, 'problem')})", err=True)
        sys.exit(1)
    if faults:
        click.echo(f"{config.path}: `monitor run` would start, but not as configured "
                   f"({_count(faults, 'problem')})", err=True)
        sys.exit(1)
    click.echo(f"{config.path}: configuration is valid" + (f" ({len(warnings)} warnings)" if warnings else ""))


def _count(things: list, name: str) -> str:
    return f"{len(things)} {name}{'s' if len(things) != 1 else ''}"


@cli.command()
@click.argument("path", type=click.Path(dir_okay=True, file_okay=True, writable=True))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@pass_ctx
def backup(ctx: Context, path: str, force: bool) -> None:
    """Copy the database to PATH (a file, or a folder for a time-stamped file), safely while the daemon runs."""
    from monitor.clock import system_clock
    from monitor.app.maintenance import backup_database

    config = ctx.config_to_read()
    result = backup_database(config.database_path, path, now=system_clock(), overwrite=force)
    click.echo(f"backed up {config.database_path} to {result.path} ({result.size} bytes, {result.items} items)")


@cli.command()
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@pass_ctx
def purge(ctx: Context, dry_run: bool) -> None:
    """Delete items older than storage.retention_days, with their verdicts and cases, and old sent alerts."""
    from monitor.app.assembly import open_store
    from monitor.app.maintenance import purge as purge_store

    config = ctx.config_to_read()
    store = open_store(config, create=False)
    try:
        result = purge_store(store, config, dry_run=dry_run)
    finally:
        store.close()
    verb = "would delete" if dry_run else "deleted"
    click.echo(
        f"{verb} data older than {result.cutoff.date().isoformat()} ({config.storage.retention_days} days): "
        f"{result.items} items, {result.verdicts} verdicts, {result.cases} cases, "
        f"{result.alerts} sent alerts, {result.outages} ended outages, {result.feedback} feedback entries"
    )


@cli.group()
def sla() -> None:
    """Acknowledgement deadlines."""


@sla.command("due")
@click.option(
    "--received", metavar="ISO8601",
    help="When the comment was posted, with its UTC offset (2026-11-20T16:00:00Z, 2026-06-19T16:00+01:00). "
    "A time without an offset is refused. Without this option, one timestamp per line is read from stdin.",
)
@click.option("--policy", type=click.Choice(["24h", "2wd"]), help="Deadline rule (default: sla.policy, else 24h).")
@pass_ctx
def sla_due(ctx: Context, received: str | None, policy: str | None) -> None:
    """Print the acknowledgement deadline in ISO 8601 with the school's local offset.

    Without a configuration file the defaults apply: Europe/London, GB-ENG holidays, close of
    business 17:00, policy 24h.
    """
    from monitor.sla.calendar import WorkingCalendar
    from monitor.sla.deadlines import deadlines_for_lines

    config = ctx.config_to_read(required=False)
    calendar = WorkingCalendar.from_config(config)
    policy = policy or config.sla.policy
    if received is not None:
        try:
            lines = deadlines_for_lines([received], policy, calendar)
        except ValueError as exc:
            raise click.BadParameter(str(exc).removeprefix("line 1: "), param_hint="--received") from None
    else:
        try:
            lines = deadlines_for_lines(sys.stdin.read().splitlines(), policy, calendar)
        except ValueError as exc:
            raise click.ClickException(f"stdin {exc}") from None
    for line in lines:
        click.echo(line)


@cli.command()
@click.option("--open", "open_only", is_flag=True, help="Only the open cases, soonest deadline first.")
@click.option("--json", "as_json", is_flag=True, help="Print the cases as one JSON document.")
@pass_ctx
def cases(ctx: Context, open_only: bool, as_json: bool) -> None:
    """List acknowledgement cases: received, due, state, and who closed them how."""
    from monitor.app.assembly import open_store_to_report
    from monitor.sla.cases import format_cases, list_cases
    from monitor.app.status import simulated_note

    config = ctx.config_to_read()
    store = open_store_to_report(config)
    try:
        found = list_cases(store, open_only=open_only)
        simulated = store.simulated_time()
    finally:
        store.close()
    if simulated is not None:
        # on stderr with --json: stdout stays one JSON document
        click.echo(simulated_note(simulated, config.school.tz), err=as_json)
    if as_json:
        click.echo(printable_json([case.to_json() for case in found], indent=2))
    else:
        click.echo(format_cases(found, config.school.tz))


@cli.command()
@click.argument("case_id", type=int)
@click.option("--by", required=True, metavar="NAME", help="Who acknowledged the comment (written to the audit log).")
@click.option("--note", metavar="TEXT", help="A note kept with the case, e.g. how it was answered.")
@pass_ctx
def ack(ctx: Context, case_id: int, by: str, note: str | None) -> None:
    """Acknowledge a case by hand. A case already closed is reported and left unchanged."""
    from monitor.app.assembly import open_store
    from monitor.sla.cases import acknowledge

    config = ctx.config_to_read()
    store = open_store(config, create=False)
    try:
        result = acknowledge(store, case_id, by=by, how="cli", note=note)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--by") from None
    finally:
        store.close()
    click.echo(result.message)


def _act(ctx: Context, action: str, item_id: int | None, by: str | None, *, case_id: int | None = None,
         text: str | None = None) -> None:
    import getpass

    from monitor.app.assembly import open_store
    from monitor.sla.cases import get_case
    from monitor.actions.platform import act

    config = ctx.config()
    store = open_store(config)
    try:
        if case_id is not None:
            item_id = get_case(store, case_id).item_id
        outcome = act(store, config, action=action, item_id=item_id, by=by or getpass.getuser(), how="cli",
                      text=text)
    finally:
        store.close()
    click.echo(outcome.message)
    if outcome.state != "done":
        sys.exit(1)


@cli.command()
@click.argument("case_id", type=int)
@click.option("--text", required=True, metavar="TEXT", help="The reply, posted as the school's account.")
@click.option("--by", metavar="NAME", help="Who is replying (audited; default: your login name).")
@pass_ctx
def reply(ctx: Context, case_id: int, text: str, by: str | None) -> None:
    """Reply on the platform to a case's comment (once, however often asked); the case closes as met."""
    _act(ctx, "reply", None, by, case_id=case_id, text=text)


@cli.command()
@click.argument("item_id", type=int)
@click.option("--by", metavar="NAME", help="Who is hiding it (audited; default: your login name).")
@pass_ctx
def hide(ctx: Context, item_id: int, by: str | None) -> None:
    """Hide a comment on its platform; its case closes as removed."""
    _act(ctx, "hide", item_id, by)


@cli.command()
@click.argument("item_id", type=int)
@click.option("--by", metavar="NAME", help="Who is deleting it (audited; default: your login name).")
@pass_ctx
def delete(ctx: Context, item_id: int, by: str | None) -> None:
    """Delete a comment from its platform; its case closes as removed."""
    _act(ctx, "delete", item_id, by)


@cli.command("tell-audience")
@click.argument("item_id", type=int)
@click.option("--text", metavar="TEXT", help="The notice (default: [replies] removal_notice, the school's name filled in).")
@click.option("--by", metavar="NAME", help="Who is posting it (audited; default: your login name).")
@pass_ctx
def tell_audience(ctx: Context, item_id: int, text: str | None, by: str | None) -> None:
    """After a hide or delete, post the removal notice on the post the comment was under (once)."""
    _act(ctx, "notice", item_id, by, text=text)


@cli.command()
@click.argument("item_id", type=int)
@click.option("--by", metavar="NAME", help="Who is blocking (audited; default: your login name).")
@pass_ctx
def block(ctx: Context, item_id: int, by: str | None) -> None:
    """Block a comment's author from the school's account (Mastodon, Bluesky); the post stays public."""
    _act(ctx, "block", item_id, by)


@cli.command()
@click.argument("item_id", type=int)
@click.option("--by", metavar="NAME", help="Who is reporting it (audited; default: your login name).")
@pass_ctx
def report(ctx: Context, item_id: int, by: str | None) -> None:
    """Report a comment to its platform's moderators (Mastodon, Bluesky); the post stays public."""
    _act(ctx, "report", item_id, by)


@cli.command()
@pass_ctx
def classify(ctx: Context) -> None:
    """Classify texts: one per line on stdin (UTF-8), one JSON object per line on stdout.

    Each object is {"text", "score", "flagged", "labels", "reasons"}. Uses the [classifier]
    section of the configuration if there is one, else the shipped model with the safeguarding rules.
    """
    from classifiers.stream import classify_lines, read_lines
    from monitor.app.assembly import build_classifier

    classifier = build_classifier(ctx.config_to_read(required=False))
    for record in classify_lines(classifier, read_lines(sys.stdin.buffer)):
        click.echo(printable_json(record))


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print the figures without keeping the tuning.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@pass_ctx
def tune(ctx: Context, dry_run: bool, as_json: bool) -> None:
    """Refit the classifier on this school's moderator feedback and print before/after figures.

    "Not abusive" clicks, escalations and removed comments are labelled examples; at least 12 of
    each kind are needed (exit 1 otherwise, nothing changed). A third of each are held back to
    measure the change, which is kept only if it does better there and flags no fewer abusive ones;
    the threshold moves at most 0.1 from the shipped one. The safeguarding rules are never tuned.
    Delete the tuning file to return to the shipped model.
    """
    from classifiers import load_model
    from monitor.app.assembly import open_store
    from monitor.tune import tune as run_tune

    config = ctx.config_to_read()
    model = load_model(config.classifier.model, threshold=config.classifier.threshold,
                       label_map=dict(config.classifier.label_map), max_chars=config.classifier.max_chars)
    store = open_store(config, create=False)
    try:
        result = run_tune(store, model, config.database_path, dry_run=dry_run)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"examples": result.examples, "held_back": result.held_back,
                               "refitted": result.refitted, "before": result.before.as_dict(),
                               "after": result.after.as_dict(), "safeguarding_hits": result.safeguarding_hits,
                               "kept": result.kept, "path": str(result.path) if result.path else None,
                               "notes": result.notes}))
        return
    click.echo(f"{result.examples} moderator decisions, {result.held_back} held back to measure; "
               f"refitted: {result.refitted}")
    click.echo(f"before (held back): {result.before.line()}")
    click.echo(f"after  (held back): {result.after.line()}")
    click.echo(f"safeguarding rules: unchanged ({result.safeguarding_hits} of the examples trip them, before and after)")
    for note in result.notes:
        click.echo(note)
    if result.path:
        click.echo(f"kept: {result.path} (delete it to return to the shipped model)")
    elif dry_run and result.kept:
        click.echo("dry run: nothing written")


@cli.command()
@click.option("--week", metavar="YYYY-Www", help="ISO week (default: the last complete week, school time zone).")
@click.option("--out", "out_path", metavar="FILE", type=click.Path(dir_okay=False), help="Write the HTML (chart embedded) to FILE.")
@click.option("--send", is_flag=True, help="Queue the email to digest.recipients (once per week, however often asked).")
@pass_ctx
def digest(ctx: Context, week: str | None, out_path: str | None, send: bool) -> None:
    """Build the weekly digest: print it as text, write its HTML (--out), or send it (--send).

    Every run also keeps a copy of the week's HTML in the digests/ folder beside the database.
    """
    from pathlib import Path

    from monitor.app.assembly import open_store_to_report
    from monitor.digest.render import render_text
    from monitor.digest.send import publish
    from monitor.digest.week import parse_week
    from monitor.app.status import simulated_note

    config = ctx.config() if send else ctx.config_to_read()
    week = parse_week(week) if week else None
    # it archives the week's HTML beside the database: both are made if need be
    store = open_store_to_report(config, create=True)
    try:
        simulated = store.simulated_time()
        if simulated is not None:
            click.echo(simulated_note(simulated, config.school.tz), err=True)
        result = publish(store, config, week, out=Path(out_path) if out_path else None, send=send)
    finally:
        store.close()
    if not (send or out_path):
        click.echo(render_text(result.digest), nl=False)
    if out_path:
        click.echo(f"wrote {out_path}")
    if send and result.queued:
        click.echo(f"digest {result.week} queued for {result.queued} recipient{'s' if result.queued != 1 else ''}")
    elif send:
        click.echo(f"digest {result.week} already queued (or no recipient reachable): not queued again")
    click.echo(f"archived at {result.archive}", err=True)


@cli.command()
@click.option("--dir", "folder", metavar="PATH", default="demo-output", show_default=True,
              type=click.Path(file_okay=False), help="Folder for everything the demo writes.")
@click.option("--fast", is_flag=True, help="No pauses: run the week as fast as the machine allows.")
def demo(folder: str, fast: bool) -> None:
    """Run the whole loop on a built-in sample week, with no accounts and no network."""
    from pathlib import Path

    from monitor.demo.run import run_demo
    from monitor.demo.view import RichView

    sys.dont_write_bytecode = True  # nothing written outside the demo folder, not even .pyc files
    view = RichView()
    summary = run_demo(Path(folder), fast=fast, view=view)
    view.summary(summary)
    if summary.digest is None or any(p.part == "demo" for p in summary.problems):
        sys.exit(1)


def main(argv: list[str] | None = None) -> Any:
    """Entry point: a MonitorError is one line on stderr and exit code 1 (a traceback with --debug)."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        return cli.main(args=argv, prog_name="monitor", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except MonitorError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001
        if debug:
            raise
        click.echo(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
