"""What ``monitor demo`` shows in the terminal: progress, what the moderator receives, the summary.

:class:`QuietView` shows nothing (tests, scripts); :class:`RichView` draws with ``rich``: a progress
bar over the simulated week, each Slack message as a panel, each email as one line, and the
summary table at the end.
"""

from __future__ import annotations

import html
import re
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

from monitor.demo.data import TIMEZONE

TZ = ZoneInfo(TIMEZONE)
#: messages about ordinary new comments, shown as short lines rather than panels
ROUTINE = re.compile(r"new comments? on .* to acknowledge", re.I)


class QuietView:
    def status(self, text: str) -> None:
        pass

    def intro(self, run: Any) -> None:
        pass

    @contextmanager
    def progress(self, total: int) -> Iterator[Callable[[datetime], None]]:
        yield lambda when: None

    def slack(self, posted: Any, now: datetime) -> None:
        pass

    def email(self, path: Path, subject: str, recipients: tuple[str, ...]) -> None:
        pass

    def note(self, text: str, icon: str = "👆") -> None:
        pass


def local(when: datetime, fmt: str = "%a %d %b %H:%M") -> str:
    return when.astimezone(TZ).strftime(fmt)


def mrkdwn_to_markup(text: str) -> str:
    """Slack mrkdwn (already escaped for Slack) as rich markup: bold, links, quotes."""
    from rich.markup import escape

    text = html.unescape(text)
    out = escape(text)
    out = re.sub(r"(?<![\w\\])\*([^*\n]+)\*(?!\w)", r"[bold]\1[/bold]", out)
    out = re.sub(r"(?<![\w\\])_([^_\n]+)_(?!\w)", r"[italic]\1[/italic]", out)
    out = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"[underline]\2[/underline]", out)
    out = re.sub(r"^&gt; |^> ", "│ ", out, flags=re.M)
    out = re.sub(r":(rotating_light|warning|bell|alarm_clock|hourglass_flowing_sand|no_entry|red_circle|"
                 r"large_orange_circle|white_check_mark|mag|newspaper|email|lock|bar_chart|sos):",
                 lambda m: EMOJI.get(m.group(1), ""), out)
    return out


EMOJI = {"rotating_light": "🚨", "warning": "⚠️ ", "bell": "🔔", "alarm_clock": "⏰", "hourglass_flowing_sand": "⏳",
         "no_entry": "⛔", "red_circle": "🔴", "large_orange_circle": "🟠", "white_check_mark": "✅", "mag": "🔍",
         "newspaper": "📰", "email": "✉️ ", "lock": "🔒", "bar_chart": "📊", "sos": "🆘"}


def element_markup(element: dict[str, Any]) -> str:
    """A context element as rich markup: plain text as written (Slack does not format it), mrkdwn formatted."""
    from rich.markup import escape

    text = str(element.get("text", ""))
    return escape(html.unescape(text)) if element.get("type") == "plain_text" else mrkdwn_to_markup(text)


def block_lines(blocks: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for block in blocks or []:
        kind = block.get("type")
        if kind in ("section", "header") and isinstance(block.get("text"), dict):
            lines.append(mrkdwn_to_markup(str(block["text"].get("text", ""))))
        for field in block.get("fields", []) or []:
            lines.append(mrkdwn_to_markup(str(field.get("text", ""))))
        if kind == "context":
            parts = [element_markup(e) for e in block.get("elements", []) if isinstance(e, dict)]
            lines.append("[dim]" + " · ".join(parts) + "[/dim]")
        if kind == "actions":
            labels = [e.get("text", {}).get("text", "") for e in block.get("elements", []) if isinstance(e, dict)]
            lines.append("  ".join(f"[reverse] {mrkdwn_to_markup(str(label))} [/reverse]" for label in labels))
    return lines


def style_of(text: str) -> str:
    lowered = text.lower()
    if any(word in lowered for word in ("threat", "escalat", "breach", "personal data", "blind")):
        return "red"
    if any(word in lowered for word in ("abus", "offensive", "flagged", "overdue")):
        return "yellow"
    return "cyan"


class RichView(QuietView):
    def __init__(self, console: Any = None):
        from rich.console import Console

        self.console = console or Console(highlight=False)
        self._progress: Any = None

    def status(self, text: str) -> None:
        self.console.print(f"[dim]… {text}[/dim]")

    def intro(self, run: Any) -> None:
        from rich.panel import Panel

        sources = ", ".join(f"{p.source} ({'official' if run.config.source(p.source).official else 'mentions'})"
                            for p in run.platforms.values()) or "none"
        channels = []
        if run.slack is not None:
            channels.append(f"Slack (a local fake at {run.slack.base_url})")
        if run.mail is not None:
            channels.append(f"email (a local mail server saving .eml files in {run.folder / 'mail'})")
        self.console.print(Panel(
            f"[bold]{run.config.school.name}[/bold] · a week of its social media, run on an accelerated clock\n"
            f"sources: {sources}\nthe moderator receives: {', '.join(channels) or 'nothing (no notifier started)'}\n"
            f"[dim]all on 127.0.0.1, nothing leaves this machine; everything written goes to {run.folder}[/dim]",
            title="monitor demo", border_style="green",
        ))

    @contextmanager
    def progress(self, total: int) -> Iterator[Callable[[datetime], None]]:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(), console=self.console, transient=True,
        ) as progress:
            task = progress.add_task("simulated week", total=total)
            self._progress = progress

            def advance(when: datetime) -> None:
                progress.update(task, advance=1, description=f"simulated time {local(when)}")

            try:
                yield advance
            finally:
                self._progress = None

    def slack(self, posted: Any, now: datetime) -> None:
        from rich.panel import Panel

        from rich.errors import MarkupError
        from rich.text import Text

        lines = block_lines(posted.blocks) or [mrkdwn_to_markup(posted.text or "")]
        if ROUTINE.search(posted.text or ""):
            self._routine(posted, now)
            return
        try:
            body = Text.from_markup("\n".join(lines))
        except MarkupError:  # unusual text: show it plain rather than not at all
            body = Text(html.unescape(posted.text or ""))
        self.console.print(Panel(
            body, title=f"Slack #{posted.channel} · {local(now)}", title_align="left",
            border_style=style_of(posted.text or " ".join(lines)), width=min(100, self.console.width),
        ))

    def _routine(self, posted: Any, now: datetime) -> None:
        """A message about ordinary new comments: one line per comment, not a panel."""
        from rich.markup import escape

        self.console.print(f"[cyan]Slack {local(now, '%a %H:%M')}[/cyan] {escape(html.unescape(posted.text or ''))}")
        who = "someone"
        for block in posted.blocks or []:
            if block.get("type") == "context":  # the byline of the comment quoted next ("Name on source")
                first = (block.get("elements") or [{}])[0]
                if first.get("type") == "plain_text":
                    who = html.unescape(str(first.get("text", ""))).rsplit(" on ", 1)[0]
            text = (block.get("text") or {}).get("text", "") if block.get("type") == "section" else ""
            quoted = [line[2:] for line in html.unescape(text).splitlines() if line.startswith("> ")]
            if quoted:
                self.console.print(f"    [dim]{escape(who)}:[/dim] {escape(' '.join(quoted))[:110]}")
                who = "someone"

    def email(self, path: Path, subject: str, recipients: tuple[str, ...]) -> None:
        if ROUTINE.search(subject):
            return  # the same news as the Slack message just shown
        from rich.markup import escape

        self.console.print(f"  ✉  [bold]{escape(subject)}[/bold] → {escape(', '.join(recipients))}  [dim]{path.name}[/dim]")

    def note(self, text: str, icon: str = "👆") -> None:
        from rich.markup import escape

        self.console.print(f"  {icon} [green]{escape(text)}[/green]")

    def summary(self, summary: Any) -> None:
        from rich.markup import escape
        from rich.table import Table

        table = Table(title="The week in numbers", show_header=True, header_style="bold")
        table.add_column("")
        table.add_column("count", justify="right")
        table.add_column("detail")
        tags = summary.seeded_by_tag
        table.add_row("posts in the sample week", str(summary.seeded),
                      ", ".join(f"{n} {t}" for t, n in sorted(tags.items(), key=lambda kv: -kv[1])))
        table.add_row("items collected", str(summary.items), f"{summary.by_school} by the school's own accounts")
        table.add_row("flagged by the classifier", str(summary.flagged),
                      f"{summary.serious_flagged} of the {summary.serious_seeded} abusive, threatening or personal-data posts")
        table.add_row("acknowledgement cases", str(summary.cases), "comments on the school's official accounts")
        table.add_row("  met (acknowledged in time)", str(summary.met), "")
        table.add_row("  breached (late or overdue)", str(summary.breached), "")
        removed_from_slack = sum(1 for w in summary.slack_writes if w["action"] in ("hide", "delete") and w["case"] == "removed")
        table.add_row("  removed (hidden or deleted)", str(summary.removed),
                      f"{removed_from_slack} from Slack; the others deleted on the platform, closed by the SLA clock")
        table.add_row("  still open, not yet due", str(summary.open), "")
        table.add_row("Slack messages", str(summary.slack_messages), "to the moderators' channel")
        for write in summary.slack_writes:
            done = {"reply": "replied", "hide": "hidden", "delete": "deleted"}[write["action"]]
            seen = "seen on the platform" if write["on_platform"] else "NOT seen on the platform"
            closed = "case met" if write["met"] else f"case {write['case']}"
            table.add_row(f"  {done} from Slack", "1", escape(f"{write['author']} on {write['source']}: {seen}, {closed}"))
        table.add_row("emails", str(summary.emails), f".eml files in {summary.folder / 'mail'}")
        self.console.print(table)
        if summary.sources:
            by_source = Table(title="By source", header_style="bold")
            by_source.add_column("source")
            by_source.add_column("items", justify="right")
            by_source.add_column("flagged", justify="right")
            for name, counts in summary.sources.items():
                by_source.add_row(escape(name), str(counts["items"]), str(counts["flagged"]))
            self.console.print(by_source)
        if summary.digest is not None:
            self.console.print(f"[bold green]weekly digest:[/bold green] {summary.digest}")
        else:
            self.console.print("[yellow]no weekly digest was produced[/yellow]")
        for problem in summary.problems:
            self.console.print(f"[red]not working:[/red] {escape(problem.part)}: {escape(problem.message)}")
        self.console.print(
            f"[dim]{summary.seconds:.1f}s · everything is in {summary.folder} · "
            f"look around: monitor --config {summary.folder / 'monitor.toml'} status[/dim]"
        )
