"""The rendering: a week's :class:`~monitor.digest.week.Digest` as an email's parts.

:func:`render_html` (inline styles, the chart by Content-ID), :func:`render_text` (the plain-text
alternative, every value on one line) and :func:`render_chart` (a PNG of mentions and flagged items
per day); :func:`standalone_html` embeds the chart for a file any browser opens. The templates are
``templates/digest.html`` and ``templates/digest.txt`` beside this module.

All external text (comments, names, source names, URLs) is escaped in the HTML (Jinja2 autoescape);
only ``http``/``https`` URLs become links.
"""

from __future__ import annotations

import base64
import functools
import io
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from monitor.digest.week import Digest, local_text, week_monday
from monitor.sanitize import one_line

#: The chart's Content-ID in the email (``cid:digest-chart``).
CHART_CID = "digest-chart"


# -- text ---------------------------------------------------------------------------------------


def short_url(url: str, length: int = 60) -> str:
    """A link's visible text: the address without its scheme, cut with an ellipsis."""
    text = re.sub(r"^https?://", "", url, flags=re.IGNORECASE)
    return text if len(text) <= length else text[: length - 1] + "…"


def duration_text(value: timedelta | None) -> str:
    """``2 h 05 min``, ``3 d 4 h``, ``45 min``; a dash for none."""
    if value is None:
        return "–"
    minutes = max(0, round(value.total_seconds() / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


def change_text(now: int, before: int) -> str:
    """``+12 (+30%)``, ``-3 (-10%)``, ``no change``, ``none last week``."""
    delta = now - before
    if delta == 0:
        return "no change"
    if before == 0:
        return "none last week"
    return f"{delta:+d} ({delta / before:+.0%})"


# -- rendering ----------------------------------------------------------------------------------

#: Inline styles (many mail clients drop <style>): a single column that wraps everything.
CSS = {
    "wrap": (
        "max-width:640px;margin:0 auto;padding:16px;background:#ffffff;color:#1f2937;"
        "font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:15px;"
        "line-height:1.45;overflow-wrap:anywhere;word-break:break-word;box-sizing:border-box;"
    ),
    "h1": "font-size:20px;line-height:1.3;margin:4px 0 12px 0;",
    "h2": "font-size:17px;margin:20px 0 6px 0;padding-bottom:2px;border-bottom:2px solid #e5e7eb;",
    "h3": "font-size:15px;margin:12px 0 4px 0;",
    "table": "width:100%;max-width:100%;border-collapse:collapse;table-layout:fixed;",
    "th": (
        "text-align:left;padding:4px 6px;border-bottom:1px solid #d1d5db;font-weight:600;"
        "overflow-wrap:anywhere;word-break:break-word;"
    ),
    "td": (
        "text-align:left;vertical-align:top;padding:4px 6px;border-bottom:1px solid #eef0f2;"
        "overflow-wrap:anywhere;word-break:break-word;"
    ),
    "a": "color:#1d4ed8;overflow-wrap:anywhere;word-break:break-all;",
    "card": "margin:0 0 10px 0;padding:6px 8px;border-left:3px solid #d1d5db;background:#f9fafb;",
    "muted": "color:#6b7280;font-size:13px;",
}


@functools.lru_cache(maxsize=8)
def _environment(tz: ZoneInfo, autoescape: bool):
    """A Jinja2 environment per zone (kept: templates compile once)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        # plain text (a terminal, an email): every value on one line, without control characters
        finalize=None if autoescape else _one_line_value,
    )
    env.filters.update(
        local=lambda moment: local_text(moment, tz),
        day_long=lambda value: _as_date(value, tz).strftime("%a %d %b %Y"),
        day_short=lambda value: _as_date(value, tz).strftime("%a %d %b"),
        duration=duration_text,
        pct=lambda share: f"{share:.0%}",
        change=change_text,
        short_url=short_url,
    )
    return env


def _one_line_value(value: Any) -> Any:
    return one_line(value) if isinstance(value, str) else value


def _as_date(value: date | datetime, tz: ZoneInfo) -> date:
    return value.astimezone(tz).date() if isinstance(value, datetime) else value


def _context(digest: Digest) -> dict[str, Any]:
    return {"d": digest, "css": CSS, "last_day": week_monday(digest.week) + timedelta(days=6)}


def render_html(digest: Digest, chart_src: str | None = f"cid:{CHART_CID}") -> str:
    """The email's HTML; ``chart_src`` is the chart's address (``cid:`` in the email, ``data:`` in a file)."""
    env = _environment(ZoneInfo(digest.timezone), autoescape=True)
    return env.get_template("digest.html").render(**_context(digest), chart_src=chart_src)


def render_text(digest: Digest) -> str:
    """The plain-text alternative."""
    env = _environment(ZoneInfo(digest.timezone), autoescape=False)
    return env.get_template("digest.txt").render(**_context(digest))


def render_chart(digest: Digest) -> bytes:
    """A PNG bar chart of mentions and flagged items per day (matplotlib, Agg, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [day.day.strftime("%a %d") for day in digest.by_day]
    positions = range(len(labels))
    figure = Figure(figsize=(6.4, 2.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.bar([p - 0.2 for p in positions], [d.mentions for d in digest.by_day], width=0.4, label="mentions", color="#3b82f6")
    axes.bar([p + 0.2 for p in positions], [d.flagged for d in digest.by_day], width=0.4, label="flagged", color="#dc2626")
    axes.set_xticks(list(positions), labels)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_ylim(0, max([d.mentions for d in digest.by_day] + [1]) * 1.1)
    axes.legend(frameon=False, fontsize=10, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    axes.tick_params(labelsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def standalone_html(digest: Digest, png: bytes | None = None) -> str:
    """The HTML with the chart embedded, viewable as a file in any browser."""
    return render_html(digest, data_uri(png if png is not None else render_chart(digest)))
