"""Checks beyond validation: things that are allowed but that a school would want to know."""

from __future__ import annotations

from monitor.config import Config


def check_configuration(config: Config) -> tuple[list[str], list[str]]:
    """(warnings, notes) about a valid configuration."""
    from connectors import connector_class

    warnings: list[str] = []
    notes: list[str] = [f"school: {config.school.name} ({config.school.timezone})"]
    notes.append(f"database: {config.database_path}")
    for source in config.sources:
        connector_class(source.type)  # importable
        flags = ", ".join(f for f in ("official" if source.official else "", "disabled" if not source.enabled else "") if f)
        every = int(source.interval.total_seconds())
        notes.append(f"source {source.name}: {source.type}, every {every}s" + (f" ({flags})" if flags else ""))
    if not config.sources:
        warnings.append("no [[sources]] configured: nothing will be monitored")
    if not any(s.official for s in config.sources) and config.sources:
        warnings.append("no source is official = true: no acknowledgement cases will be opened")
    if config.notify.slack is None and config.notify.email is None:
        warnings.append(
            "no [notify.slack] or [notify.email]: alerts (abuse, deadlines, a source going blind) reach nobody"
        )
    return warnings, notes
