"""Checks beyond validation: things that are allowed but that a school would want to know."""

from __future__ import annotations

import grp
import json
import logging
import os
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, get_args

from pydantic import BaseModel, SecretStr

from monitor.config import Config, Problem

logger = logging.getLogger(__name__)


def check_configuration(config: Config) -> tuple[list[str], list[str]]:
    """(warnings, notes) about a valid configuration; ConfigError if what the daemon reads beside
    it at start (the term calendar) cannot be read."""
    from connectors import connector_class
    from monitor.sla.calendar import WorkingCalendar
    from monitor.notify.routing import span

    WorkingCalendar.from_config(config)

    warnings: list[str] = []
    notes: list[str] = [f"school: {config.school.name} ({config.school.timezone})"]
    notes.append(f"database: {config.database_path}")
    for source in config.sources:
        warnings.extend(f"source {source.name}: {w}" for w in connector_class(source.type).config_warnings(source))
        flags = ", ".join(f for f in ("official" if source.official else "", "disabled" if not source.enabled else "") if f)
        notes.append(f"source {source.name}: {source.type}, every {span(source.interval)}" + (f" ({flags})" if flags else ""))
    notes.extend(describe_action_needs(config))
    warnings.extend(check_action_buttons(config))
    notes.extend(describe_routing(config))
    warnings.extend(check_permissions(config))
    if not config.sources:
        warnings.append("no [[sources]] configured: nothing will be monitored")
    if not any(s.official for s in config.sources) and config.sources:
        warnings.append("no source is official = true: no acknowledgement cases will be opened")
    if config.notify.slack is None and config.notify.email is None and config.notify.teams is None:
        warnings.append(
            "no [notify.slack], [notify.teams] or [notify.email]: alerts (abuse, deadlines, a source going blind) "
            "reach nobody"
        )
    routing = config.notify.routing
    if routing.batch_window >= config.sla.remind_before:
        warnings.append(
            f"notify.routing.batch_window ({span(routing.batch_window)}) is not shorter than sla.remind_before "
            f"({span(config.sla.remind_before)}): a new comment could be told after its reminder was due"
        )
    warnings.extend(check_slack_moderators(config))
    warnings.extend(check_school_contacts(config))
    if config.digest.recipients and config.notify.email is None:
        warnings.append("[digest] recipients are set but there is no [notify.email]: the weekly digest cannot be sent")
    return warnings, notes


def check_startup(config: Config) -> tuple[list[str], list[str], list[str], list[str]]:
    """(problems, faults, warnings, notes): what would stop ``monitor run`` from starting that
    validation cannot see (the database at storage.path, the classifier's model), what it would start
    without (a damaged tuning file: the model is used without it), what could not be checked from
    here, and which model will be used."""
    from monitor.errors import StoreDenied, StoreError
    from monitor.store import inspect_database

    problems: list[str] = []
    warnings: list[str] = []
    try:
        inspect_database(config.database_path)
    except StoreDenied as exc:
        warnings.append(f"storage.path: {exc}")
    except StoreError as exc:
        problems.append(f"storage.path: {exc}")
    model = check_classifier(config)
    problems += [model.problem] if model.problem else []
    warnings += [model.warning] if model.warning else []
    return problems, [model.fault] if model.fault else [], warnings, [model.note] if model.note else []


@dataclass(frozen=True)
class ModelCheck:
    """What ``check-config`` found of ``classifier.model``: a problem (``monitor run`` would not
    start), a fault (it would start without the school's tuning), a warning (it could not be checked
    from here, or the tuning is for another model), and the note of what will be used."""

    problem: str | None = None
    warning: str | None = None
    note: str | None = None
    fault: str | None = None


def check_classifier(config: Config, *, hub_timeout: float = 10.0) -> ModelCheck:
    """Resolve ``classifier.model`` as ``monitor run`` will, and load it when it is on this server
    (the shipped model or a folder: about a second for the shipped one). A Hugging Face model id not
    downloaded yet is looked up on the hub, not downloaded: ``monitor run`` downloads it at start."""
    from classifiers import DEFAULT_MODEL
    from classifiers.loader import looks_like_path

    reference = config.classifier.model
    key = f"classifier.model = {json.dumps(reference)}"
    folder = DEFAULT_MODEL if reference == "default" else Path(reference).expanduser()
    local = reference == "default" or folder.exists() or looks_like_path(reference)
    if local:
        problem = _model_folder_problem(folder)
        if problem:
            return ModelCheck(problem=f"{key}: {problem}")
    elif not _in_hub_cache(reference):
        return _check_on_hub(reference, key, hub_timeout)
    return _load_to_check(config, key)


def _model_folder_problem(folder: Path) -> str | None:
    fix = 'give a model folder, a Hugging Face model id, or "default" (the shipped model)'
    if not folder.exists():
        return f"there is no folder {folder}; {fix}"
    if not folder.is_dir():
        return f"{folder} is a file, not a model folder; {fix}"
    if (folder / "model.onnx").is_file():
        try:
            json.loads((folder / "model.json").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            return (f"{folder / 'model.json'} cannot be read ({type(exc).__name__}: {exc}); the model folder is "
                    "incomplete or damaged: copy it again (classifiers/train.py writes one)")
        return None
    if not (folder / "config.json").is_file():
        return (f"{folder} is not a model folder: it has neither model.onnx and model.json (the shipped kind) "
                f"nor config.json (a transformers model); {fix}")
    return None


def _in_hub_cache(reference: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        return isinstance(try_to_load_from_cache(reference, "config.json"), str)
    except Exception:  # noqa: BLE001 - an id the hub's rules refuse is judged by _check_on_hub
        return False


def _check_on_hub(reference: str, key: str, timeout: float) -> ModelCheck:
    """A model id not on this server yet: ask the hub whether it exists (nothing is downloaded)."""
    import difflib

    if difflib.SequenceMatcher(None, reference.lower(), "default").ratio() >= 0.75:
        return ModelCheck(problem=f'{key}: not a known name; did you mean "default" (the shipped model)?')
    try:
        import huggingface_hub
        from huggingface_hub.errors import HFValidationError, RepositoryNotFoundError
    except ImportError:
        return ModelCheck(problem=f"{key}: a Hugging Face model id needs transformers and torch: "
                                  "pip install 'school-social-monitor[hf]'")
    try:
        info = huggingface_hub.model_info(reference, timeout=timeout)
    except HFValidationError as exc:
        return ModelCheck(problem=f'{key}: not a model folder nor a Hugging Face model id ({exc}); give a model '
                                  'folder, an id such as "owner/name", or "default"')
    except RepositoryNotFoundError:
        return ModelCheck(problem=f"{key}: there is no such folder on this server and no such model on the "
                                  f"Hugging Face hub ({huggingface_hub.constants.ENDPOINT}); check the spelling, "
                                  'or give a model folder or "default"')
    except Exception as exc:  # noqa: BLE001 - any failure to reach the hub: told, not fatal
        return ModelCheck(warning=f"{key}: not checked: the Hugging Face hub ({huggingface_hub.constants.ENDPOINT}) "
                                  f"cannot be reached from here ({type(exc).__name__}); `monitor run` must download "
                                  "the model at start: give this server web access, or copy the model to a folder "
                                  "and name the folder")
    return ModelCheck(note=f"classifier: Hugging Face model {info.id}"
                           + (f" (revision {info.sha[:12]})" if info.sha else "")
                           + ", not downloaded yet: `monitor run` downloads it at start")


def _load_to_check(config: Config, key: str) -> ModelCheck:
    """Load the classifier as ``monitor run`` will, with the school's tuning (``monitor tune``) if any:
    a tuning file that cannot be used is a fault (``monitor run`` logs it and uses the model without it)."""
    from classifiers import load_classifier
    from monitor.errors import ConfigError
    from monitor.tune import TuningDenied, TuningInvalid, TuningStale, tuning_path

    fault = warning = None
    try:
        try:
            classifier = load_classifier(config.classifier, tuning=tuning_path(config.database_path),
                                         strict_tuning=True)
        except (TuningInvalid, TuningStale) as exc:
            # one this user may not read is a warning, as the database is (StoreDenied): the service may
            fault, warning = (None, str(exc)) if isinstance(exc, (TuningStale, TuningDenied)) else (str(exc), None)
            classifier = load_classifier(config.classifier)
    except ConfigError as exc:
        # the loader's message on one line, after the key and the value as written
        text = " ".join(str(exc).split()).removeprefix("classifier.model: ")
        return ModelCheck(problem=f"{key}: {text}")
    rules = "with the safeguarding rules" if config.classifier.rules else "without the safeguarding rules"
    return ModelCheck(fault=fault, warning=warning,
                      note=f"classifier: {classifier.name} version {classifier.version} ({key}, threshold "
                           f"{config.classifier.threshold}, {rules})")


def describe_action_needs(config: Config) -> list[str]:
    """For each source that opts into writes: the permission the platform will ask of its token."""
    from connectors import connector_class

    notes = []
    for source in (s for s in config.sources if s.actions):
        scopes = connector_class(source.type).action_scopes
        needs = sorted({scopes.get(action, "?") for action in source.actions})
        notes.append(f"source {source.name}: {', '.join(source.actions)} from the monitor need "
                     f"{' and '.join(needs)} on its token (a refusal is told when first tried, and in `monitor status`)")
    return notes


def check_action_buttons(config: Config) -> list[str]:
    """Writes opted into, but no way to click them from Slack."""
    if not any(s.actions for s in config.sources):
        return []
    slack = config.notify.slack
    if slack is None or slack.app_token is None:
        return ["some sources allow reply/hide/delete, but without notify.slack.app_token there are no Slack "
                "buttons: only `monitor reply`, `monitor hide` and `monitor delete` can make them"]
    return []


def check_school_contacts(config: Config) -> list[str]:
    """``classifier.school_contacts`` entries that can never match a post: the personal-data rule would
    not flag them in the first place (an empty entry, a word, too few digits for a phone number, half
    an email address, a street without its number), so listing them spares nothing."""
    if not config.classifier.rules:
        return []
    return [f"classifier.school_contacts[{index}] = {json.dumps(contact, ensure_ascii=False)} can never match a "
            f"post: {_contact_fault(contact)}"
            for index, contact in enumerate(config.classifier.school_contacts) if not _contact_matches(contact)]


def _contact_matches(contact: str) -> bool:
    """Whether the personal-data rule flags ``contact`` written in a post, and not once it is listed:
    the rule itself is the judge of what it can match."""
    import string

    from classifiers import rules

    listed = rules.contact_keys([contact])
    # as a post would write it: a street "1 School Lane", a postcode "SW1A 1AA"
    for written in {contact, string.capwords(contact), contact.upper()}:
        found = [hit for hit in rules.check(written) if hit.label == rules.PERSONAL_DATA]
        spared = [hit for hit in rules.check(written, contacts=listed) if hit.label == rules.PERSONAL_DATA]
        if len(spared) < len(found):
            return True
    return False


def _contact_fault(contact: str) -> str:
    text = contact.strip()
    if not text:
        return "it is empty; remove it"
    if "@" in text:
        return "it is not a whole email address (name@school.example); write it as published"
    if re.fullmatch(r"[+\d\s().-]+", text):
        return ("it is not a phone number the personal-data rule reads: a UK number has 10 or 11 digits starting "
                "0 (or +44), another country's starts + and has 8 to 15 digits; write it in full")
    if re.fullmatch(r"[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}", text):
        return ("it is not a UK postcode (the last two letters are never C, I, K, M, O or V, and it is written "
                "as the Royal Mail gives it); check it")
    return ("it is not an email address, phone number, postcode or street address with its number "
            '(such as "12 Orchard Road"): the personal-data rule flags only those')


def check_slack_moderators(config: Config) -> list[str]:
    """Slack buttons with no one allowed to click them: every click is refused (the safe reading)."""
    slack = config.notify.slack
    if slack is None or slack.app_token is None or slack.moderators:
        return []
    return [
        "notify.slack.moderators is empty: every Slack button click (Acknowledge, Escalate, Not abusive) is "
        "refused. List the moderators' Slack user ids (U...) and/or a user group (S...)"
    ]


def describe_routing(config: Config) -> list[str]:
    """The effective routing table, one line per alert kind: who gets it, on which channel, when."""
    from monitor.notify.outbox import Alert, routes
    from monitor.notify.routing import routing_table, span

    routing = config.notify.routing
    lines = [f"routing (batch_window {span(routing.batch_window)}, quiet_hours {routing.quiet_hours or 'none'} "
             f"on {', '.join(routing.quiet_channels) or 'no channel'}):"]
    for row in routing_table(config):
        probe = Alert(key="", kind=row["kind"], payload={}, escalate=row["kind"] == "escalation")
        to = [f"{channel} {recipient}" if recipient else channel for channel, recipient in routes(config, probe)]
        when = row["when"] + (f", quiet hours on {', '.join(row['quiet_channels'])}" if row["quiet_channels"] else "")
        lines.append(f"  {row['kind']:<17} {'urgent' if row['urgent'] else 'routine':<8} {when:<40} -> "
                     + (", ".join(to) or "nobody"))
    lines.append("  (and each source's leads get its alerts on their own channel)")
    return lines


def check_permissions(config: Config) -> list[str]:
    """Warnings for files others can read: the configuration, the database, ``file:`` secrets; and
    for secrets written in the configuration itself.

    The configuration says where the secrets are, and the database holds what children and parents
    wrote: neither should be open to the other accounts of the server. The deploy guide's own
    layout is accepted: a configuration (or secret file) of mode 0640 whose group is the service's
    (``root:school-monitor``), since the service reads it through that group.
    """
    found: list[str] = []
    if config.path is not None:
        found.extend(_too_open(Path(config.path), "configuration file", group_may_read=True))
    database = config.database_path
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        found.extend(_too_open(path, "database file"))
    found.extend(check_secrets(config))
    return found


def check_secrets(config: Config) -> list[str]:
    """A secret key (a token, a password) written as a literal in the file, or naming a ``file:``
    that others can read."""
    if config.path is None:
        return []
    try:
        text = Path(config.path).read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError):
        return []
    where = str(config.path)
    found = []
    for loc, value in _secret_values(config, raw, ()):
        if value.startswith("file:"):
            secret_file = Path(value[5:]).expanduser()
            found.extend(_too_open(secret_file, f"secret file for {_key(loc)},", group_may_read=True))
        elif not value.startswith("env:"):
            found.append(Problem(loc, (
                "is a secret written in the configuration file itself: move it to the environment file "
                f'(deploy/README.md) and write {loc[-1]} = "env:NAME", or keep it in a private file and '
                f'write {loc[-1]} = "file:/path"'
            )).describe(where, text))
    return found


def _secret_values(model: BaseModel, raw: Any, loc: tuple) -> Iterator[tuple[tuple, str]]:
    """(location, value as written) of every secret key in ``model``, read from ``raw``."""
    if not isinstance(raw, dict):
        return
    for name, field in type(model).model_fields.items():
        value, written = getattr(model, name, None), raw.get(name)
        if _is_secret(field.annotation) and _SECRET_NAME.search(name) and isinstance(written, str):
            yield (*loc, name), written
        elif isinstance(value, BaseModel):
            yield from _secret_values(value, written, (*loc, name))
        elif isinstance(value, list) and isinstance(written, list):
            for index, (part, part_written) in enumerate(zip(value, written)):
                if isinstance(part, BaseModel):
                    yield from _secret_values(part, part_written, (*loc, name, index))


#: secret keys that must not be written in the file (a user name may be)
_SECRET_NAME = re.compile(r"token|password|secret|key|webhook", re.IGNORECASE)


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_is_secret(arg) for arg in get_args(annotation))


def _key(loc: tuple) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")


def warn_about_permissions(config: Config) -> list[str]:
    """Log each permission problem at WARNING (the daemon's start); returns them."""
    found = check_permissions(config)
    for warning in found:
        logger.warning("%s", warning)
    return found


def _too_open(path: Path, what: str, *, group_may_read: bool = False) -> list[str]:
    """A warning if ``path`` is open to others (or to its group, unless ``group_may_read`` and the
    group is one this process runs with: the service reading its configuration through its group)."""
    try:
        status = os.stat(path)
    except OSError:
        return []
    mode = stat.S_IMODE(status.st_mode)
    shared_with_us = status.st_gid == os.getegid() or status.st_gid in os.getgroups()
    allowed = stat.S_IRGRP if group_may_read and shared_with_us else 0
    if not mode & (stat.S_IRWXG | stat.S_IRWXO) & ~allowed:
        return []
    group = _group_name(status.st_gid)
    who = "other accounts on this server" if mode & stat.S_IRWXO else f"the group {group}"
    if allowed:
        fix = f"chmod 640 {path} (its group {group} reads it)"
    elif group_may_read:
        fix = f"chmod 600 {path}, or 640 with the service's group (deploy/README.md: root:school-monitor)"
    else:
        fix = f"chmod 600 {path}"
    return [
        f"{what} {path} has mode {mode:o}: {who} can "
        f"{'read' if mode & (stat.S_IRGRP | stat.S_IROTH) else 'use'} it; run: {fix}"
    ]


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
