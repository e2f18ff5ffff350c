"""Configuration: a TOML file, validated where it is read.

Found at ``--config PATH``, else ``$MONITOR_CONFIG``, else ``./monitor.toml``. Secrets are never
written in the file: a value ``"env:NAME"`` reads an environment variable, ``"file:PATH"`` reads a
file. Every key is checked (type, range, unknown keys refused) and a bad file fails at start with
one message per problem, naming the key, the file and line where possible, and what was wrong.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from monitor.errors import ConfigError
from monitor.redact import redact_url, redact_urls

ENV_VAR = "MONITOR_CONFIG"
DEFAULT_PATH = Path("monitor.toml")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
#: no duration key needs more: longer ones would overflow a date (``interval = "1000000w"``)
_LONGEST = timedelta(days=3660)


def parse_duration(value: Any) -> timedelta:
    """``"90s"``, ``"5m"``, ``"4h"``, ``"2d"``, ``"1w"``, or a number of seconds (at most ten years)."""
    seconds = _seconds(value)
    if seconds > _LONGEST.total_seconds():
        raise ValueError(f"{value!r} is longer than ten years: write a shorter duration")
    return timedelta(seconds=seconds)


def duration(shortest: str, longest: str) -> Any:
    """A duration key allowed from ``shortest`` to ``longest`` (inclusive), e.g. ``duration("1s", "1d")``."""
    low, high = parse_duration(shortest), parse_duration(longest)

    def within(value: Any) -> timedelta:
        seconds = _seconds(value)
        if not low.total_seconds() <= seconds <= high.total_seconds():
            too = "short" if seconds < low.total_seconds() else "long"
            # a bare number is seconds: say so, for the reader who meant hours
            got = f"{value!r} seconds" if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)
            raise ValueError(f"{got} is too {too}: write a duration from {shortest} to {longest}, "
                             "with its unit (ms, s, m, h, d or w)")
        return timedelta(seconds=seconds)

    return Annotated[timedelta, BeforeValidator(within)]


def _seconds(value: Any) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        seconds = math.nan
    if math.isnan(seconds):
        raise ValueError(f'{value!r} is not a duration: write e.g. "90s", "5m", "4h" or "2d"')
    if seconds < 0:
        raise ValueError(f"{value!r}: a duration cannot be negative")
    return seconds


def resolve_secret(value: Any) -> Any:
    """``env:NAME`` -> the variable's value; ``file:PATH`` -> the file's content, stripped."""
    if not isinstance(value, str):
        return value
    if value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise ValueError(f"environment variable {name} is not set (the value says {value!r})")
        return os.environ[name]
    if value.startswith("file:"):
        path = Path(value[5:]).expanduser()
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read secret file {path}: {exc.strerror or exc}") from None
    return value


#: how ``load_config`` treats a secret it cannot read: refuse the file (the daemon, sending commands,
#: check-config), or keep it as an :class:`UnresolvedSecret` that says what is missing when it is used
#: (commands that only read the database: a technician without the service's environment)
SECRETS_REQUIRED = "required"
SECRETS_WHEN_NEEDED = "when-needed"


class UnresolvedSecret(SecretStr):
    """A secret that could not be read when the configuration was loaded (``env:NAME`` unset,
    ``file:PATH`` unreadable). Reading its value raises ConfigError naming the key and why."""

    def __init__(self, written: str, problem: str):
        super().__init__(written)
        self.problem = problem
        #: the key's dotted name, filled in once the whole file is read
        self.key = "a secret"

    def get_secret_value(self) -> str:
        raise ConfigError(
            f"{self.key}: {self.problem}; this needs it: run it where the service's environment and secret "
            "files are available (deploy/README.md), e.g. as the service's user"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnresolvedSecret) and self._secret_value == other._secret_value

    def __hash__(self) -> int:
        return hash(("unresolved", self._secret_value))


def _secret_field(value: Any, info: ValidationInfo) -> Any:
    """:func:`resolve_secret` for a secret key; see :data:`SECRETS_WHEN_NEEDED`."""
    if isinstance(value, SecretStr):
        return value
    try:
        return resolve_secret(value)
    except ValueError as exc:
        if (info.context or {}).get("secrets") == SECRETS_WHEN_NEEDED:
            return UnresolvedSecret(value, str(exc))
        raise


def _name_unresolved(model: BaseModel, loc: tuple = ()) -> None:
    """Give each :class:`UnresolvedSecret` in ``model`` the dotted name of its key."""
    for name in type(model).model_fields:
        value = getattr(model, name, None)
        parts = value if isinstance(value, list) else [value]
        for index, part in enumerate(parts):
            where = (*loc, name, index) if isinstance(value, list) else (*loc, name)
            if isinstance(part, UnresolvedSecret):
                part.key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in where).replace(".[", "[")
            elif isinstance(part, BaseModel):
                _name_unresolved(part, where)


def parse_clock_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        hours, minutes = (int(part) for part in value.strip().split(":"))
        if hours < 24 and minutes < 60:
            return time(hours, minutes)
    raise ValueError(f'{value!r} is not a time of day: write "HH:MM", e.g. "17:00"')


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
#: Slack conversation ids (C public, G private, D direct); a message can go to those or to a user (U, W)
SLACK_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{1,20}$")
SLACK_ID = re.compile(r"^[CGDUW][A-Z0-9]{1,20}$")


def check_email_address(value: Any) -> Any:
    """An address a mail server will take as a recipient: ``local@domain.tld``, no display name.

    The local part is a dot-atom (RFC 5322 3.4.1) of at most 64 characters; the domain has at
    least two labels of letters, digits and inner hyphens (an international one is checked in
    its IDNA form).
    """
    if not isinstance(value, str):
        return value  # the field's type refuses it
    fix = 'write one address such as "office@school.example"'
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"{value!r} is not an email address: {fix}")
    try:
        labels = domain.encode("idna").decode("ascii").split(".")
    except UnicodeError:
        labels = []
    if len(local) > 64 or not _LOCAL_PART.match(local) or len(labels) < 2 or not all(map(_LABEL.match, labels)):
        raise ValueError(f"{value!r} is not an email address: {fix}")
    return value


def check_web_address(value: Any) -> Any:
    """An absolute ``http://`` or ``https://`` URL with a host: nothing else is fetched."""
    if not isinstance(value, str):
        return value
    fix = 'write a full http:// or https:// address, e.g. "https://example.org/feed.xml"'
    value = value.strip()
    if any(ord(char) < 33 or ord(char) == 127 for char in value):
        raise ValueError(f"{value!r} holds spaces or control characters: {fix}")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise ValueError(f"{value!r} is not a web address: {fix}") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ValueError(f"{value!r} is not a web address: {fix}")
    return value


def check_slack_channel(value: Any) -> Any:
    if isinstance(value, str) and not SLACK_CHANNEL_ID.match(value):
        raise ValueError(
            f"{value!r} is not a Slack channel id: write the id shown at the bottom of the channel's "
            'details, e.g. "C0123456789" (not its #name)'
        )
    return value


def check_recipient(value: Any) -> Any:
    """An email address, or a Slack user or channel id."""
    if isinstance(value, str) and SLACK_ID.match(value):
        return value
    try:
        return check_email_address(value)
    except ValueError:
        raise ValueError(
            f'{value!r} is neither an email address nor a Slack id: write e.g. "pe-dept@school.example" '
            'or "U0123456789"'
        ) from None
def refuse_credentials(value: str, signs_in_with: str) -> str:
    """A platform's API address without a user name or password in it (``https://name:pw@host/``).

    httpx sends an address's user name and password as HTTP Basic authentication, which takes the
    place of the token header the platform's API is called with: Bluesky then refuses the session.
    Only a feed's address may carry them (a private feed behind HTTP Basic). The value shown in the
    refusal has its user name and password masked, like every URL the monitor shows.
    """
    if "@" in urlsplit(value).netloc:
        raise ValueError(f"{redact_url(value)!r} has a user name or password in it: {signs_in_with}; "
                         'write the address without the "name:password@" part')
    return value


def web_url(value: Any) -> Any:
    """An absolute http(s) address with a host; anything else is refused with the form to write."""
    from urllib.parse import urlsplit

    if isinstance(value, str):
        parts = urlsplit(value.strip())
        if parts.scheme.lower() in ("http", "https") and parts.hostname:
            return value.strip()
    raise ValueError(f'{value!r} is not a web address: write it in full, e.g. "https://host.example/path"')


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
#: how often a source is polled
PollInterval = duration("1s", "1d")
#: how long one network request may take
Timeout = duration("100ms", "10m")
#: how far back a connector reads or watches
Lookback = duration("0s", "400d")
Secret = Annotated[SecretStr, BeforeValidator(_secret_field)]
ClockTime = Annotated[time, BeforeValidator(parse_clock_time)]
EmailAddress = Annotated[str, AfterValidator(check_email_address)]
WebAddress = Annotated[str, AfterValidator(check_web_address)]
SlackChannel = Annotated[str, AfterValidator(check_slack_channel)]
Recipient = Annotated[str, AfterValidator(check_recipient)]


class Section(BaseModel):
    """A table of the file. Strict: TOML values have types, so ``"yes"`` is no boolean and
    ``"587"`` no port number."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SchoolSettings(Section):
    name: str = "Our School"
    timezone: str = "Europe/London"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as Europe/London")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class StorageSettings(Section):
    path: Path = Field(default=Path("var/monitor.db"), strict=False)
    retention_days: int = Field(default=400, ge=1, le=36500)


class SlaSettings(Section):
    policy: Literal["24h", "2wd"] = "24h"
    close_of_business: ClockTime = time(17, 0)
    holidays: str = "GB-ENG"
    closures: list[str] = Field(default_factory=list)
    #: the school's term dates (.ics file, "" for none): its holiday, half-term, INSET days are closures
    term_calendar: str = ""
    remind_before: duration("1m", "7d") = timedelta(hours=4)
    escalate_after: duration("0s", "30d") = timedelta(hours=4)

    @field_validator("holidays")
    @classmethod
    def _holiday_region(cls, value: str) -> str:
        from monitor.sla.calendar import check_region

        check_region(value)
        return value

    @field_validator("closures")
    @classmethod
    def _closure_dates(cls, values: list[str]) -> list[str]:
        from datetime import date

        for value in values:
            parts = value.split("/")
            try:
                days = [date.fromisoformat(part.strip()) for part in parts]
            except ValueError:
                raise ValueError(
                    f'{value!r}: write a date "YYYY-MM-DD" or an inclusive range "YYYY-MM-DD/YYYY-MM-DD"'
                ) from None
            if len(days) > 2 or (len(days) == 2 and days[1] < days[0]):
                raise ValueError(f"{value!r}: a range is two dates, the first not after the second")
        return values


class ClassifierSettings(Section):
    model: str = "default"
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    label_map: dict[str, str] = Field(default_factory=dict)
    #: the safeguarding rules (threats, self-harm, personal data) beside the model
    rules: bool = True
    #: the model reads a text this long whole, in windows; a longer one keeps its head and tail
    max_chars: int = Field(default=20_000, ge=100, le=1_000_000)
    #: the school's own published contacts (office phone, emails, addresses, postcodes): the
    #: personal-data rule does not flag them
    school_contacts: list[str] = Field(default_factory=list)


#: a Slack user id (U..., or W... on Enterprise Grid) or a user group id (S...)
SLACK_MODERATOR = re.compile(r"^[UWS][A-Z0-9]{2,}$")


class SlackSettings(Section):
    token: Secret
    channel: SlackChannel
    app_token: Secret | None = None
    base_url: WebAddress = "https://slack.com/api/"
    timeout: Timeout = timedelta(seconds=30)
    #: who may click the buttons: user ids and/or user groups; empty refuses every click
    moderators: list[str] = Field(default_factory=list)

    @field_validator("base_url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        return refuse_credentials(web_url(value), "Slack's credentials go in the token key, not in its address")

    @field_validator("moderators")
    @classmethod
    def _slack_ids(cls, values: list[str]) -> list[str]:
        for value in values:
            if not isinstance(value, str) or not SLACK_MODERATOR.match(value):
                raise ValueError(
                    f"{value!r} is not a Slack user id (U... or W...) or user group id (S...): copy it from the "
                    "person's profile (\"Copy member ID\") or the user group's page"
                )
        return values


class EmailSettings(Section):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False
    username: Secret | None = None
    password: Secret | None = None
    sender: EmailAddress
    moderators: list[EmailAddress] = Field(default_factory=list)
    escalate_to: list[EmailAddress] = Field(default_factory=list)
    timeout: Timeout = timedelta(seconds=30)


class TeamsSettings(Section):
    #: the Teams Workflows webhook ("Post to a channel when a webhook request is received"): a secret
    webhook_url: Secret
    timeout: Timeout = timedelta(seconds=30)

    @field_validator("webhook_url")
    @classmethod
    def _https(cls, value: SecretStr) -> SecretStr:
        from urllib.parse import urlsplit

        if isinstance(value, UnresolvedSecret):
            return value  # checked where it can be read
        if urlsplit(value.get_secret_value().strip()).scheme.lower() not in ("http", "https"):
            raise ValueError("is not an https:// URL: copy the workflow's HTTP POST URL from Teams")
        return value


ALERT_CHANNELS = ("slack", "teams", "email")


def parse_quiet_hours(value: Any) -> tuple[time, time] | None:
    """``"19:00-07:00"`` -> (start, end); ``""`` -> None (no quiet hours)."""
    if value in (None, ""):
        return None
    if isinstance(value, str) and value.count("-") == 1:
        start, end = (parse_clock_time(part) for part in value.split("-"))
        if start == end:
            raise ValueError(f"{value!r}: the quiet hours start and end at the same time; write \"\" for none")
        return start, end
    raise ValueError(f'{value!r} is not a span of hours: write "HH:MM-HH:MM", e.g. "19:00-07:00", or "" for none')


class RoutingSettings(Section):
    """Which alert kinds go to which channels, and when routine ones are sent (see docs/ALERTS.md)."""

    #: routine alerts (new comments, reminders) for one channel and recipient are gathered this
    #: long into one message; "0s" sends each at once
    batch_window: duration("0s", "1d") = timedelta(hours=2)
    #: in these hours (school time) routine alerts to ``quiet_channels`` wait for the morning
    quiet_hours: str = "19:00-07:00"
    quiet_channels: list[Literal["slack", "teams", "email"]] = Field(default_factory=lambda: ["email"])
    #: alert kind -> the moderators' channels it goes to; kinds not named keep the default
    kinds: dict[str, list[Literal["slack", "teams", "email"]]] = Field(default_factory=dict)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        parse_quiet_hours(value)
        return value

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        from monitor.notify.routing import KINDS

        unknown = sorted(set(value) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown alert kind {', '.join(map(repr, unknown))}: use {', '.join(KINDS)}")
        return value

    @property
    def quiet(self) -> tuple[time, time] | None:
        return parse_quiet_hours(self.quiet_hours)


class NotifySettings(Section):
    slack: SlackSettings | None = None
    email: EmailSettings | None = None
    teams: TeamsSettings | None = None
    routing: RoutingSettings = RoutingSettings()
    #: a source failing for longer than this alerts once (an auth failure alerts at once)
    source_down_after: duration("1m", "7d") = timedelta(hours=1)
    #: an unresolved health problem is repeated this often ("0s": never)
    repeat_every: duration("0s", "30d") = timedelta(days=1)


class DigestSettings(Section):
    recipients: list[EmailAddress] = Field(default_factory=list)
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    time: ClockTime = time(7, 30)


class RepliesSettings(Section):
    """What the Reply dialog offers (editable before it is sent): ``{school}`` and ``{deadline}``
    (the case's deadline, in the school's time) are filled in."""

    #: the acknowledgement, one per SLA policy
    acknowledgement: dict[Literal["24h", "2wd"], str] = Field(default_factory=lambda: {
        "24h": "Thank you for getting in touch. {school} has received your message and will respond "
               "by {deadline}.",
        "2wd": "Thank you for getting in touch. {school} has received your message and will respond "
               "within two working days, by {deadline}.",
    })
    #: offered after a hide or delete, to tell the thread's audience; "" offers none
    removal_notice: str = ""

    @field_validator("acknowledgement", "removal_notice")
    @classmethod
    def _fields_known(cls, value: Any) -> Any:
        for text in (value.values() if isinstance(value, dict) else [value]):
            try:
                text.format(school="", deadline="")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"{text!r} can name only {{school}} and {{deadline}} ({exc})") from None
        return value


class Config(Section):
    school: SchoolSettings = SchoolSettings()
    storage: StorageSettings = StorageSettings()
    sla: SlaSettings = SlaSettings()
    classifier: ClassifierSettings = ClassifierSettings()
    sources: list[Any] = Field(default_factory=list)  # SourceSettings subclasses, see load_config
    notify: NotifySettings = NotifySettings()
    digest: DigestSettings = DigestSettings()
    replies: RepliesSettings = RepliesSettings()

    #: the file this was read from (None for the built-in defaults)
    path: Path | None = Field(default=None, strict=False)

    def source(self, name: str):
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none configured"
        raise ConfigError(f"no source named {name!r} (sources: {known})")

    @property
    def database_path(self) -> Path:
        """The database path; a relative one is relative to the configuration file's folder."""
        path = self.storage.path.expanduser()
        if not path.is_absolute() and self.path is not None:
            path = self.path.parent / path
        return path


def find_config_path(explicit: str | os.PathLike | None = None) -> Path | None:
    """``--config``, else ``$MONITOR_CONFIG``, else ``./monitor.toml`` if it exists, else None."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return DEFAULT_PATH if DEFAULT_PATH.exists() else None


def load_config(
    path: str | os.PathLike | None = None, *, required: bool = True, secrets: str = SECRETS_REQUIRED
) -> Config:
    """Read and validate the configuration; ConfigError lists every problem found.

    With no file to be found, ``required=False`` returns the built-in defaults. With
    ``secrets=SECRETS_WHEN_NEEDED`` a secret that cannot be read here is no problem until it is used.
    """
    found = find_config_path(path)
    if found is None:
        if required:
            raise ConfigError(
                f"no configuration file: pass --config PATH, set ${ENV_VAR}, or create ./monitor.toml "
                "(config/monitor.example.toml is a commented example)"
            )
        return Config()
    # a stale $MONITOR_CONFIG in the shell is easy to forget: say where the path came from
    named = f" (named by ${ENV_VAR})" if not path and os.environ.get(ENV_VAR) else ""
    try:
        text = found.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {found}{named}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        line = found.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{found}, line {line}: not UTF-8 text: is it the right file? Save it as UTF-8 "
            "(config/monitor.example.toml is a commented example)"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{found}: not valid TOML: {exc}") from None
    return parse_config(data, path=found, text=text, secrets=secrets)


def parse_config(
    data: dict[str, Any], *, path: Path | None = None, text: str = "", secrets: str = SECRETS_REQUIRED
) -> Config:
    """Validate an already parsed TOML document (see :func:`load_config`)."""
    from connectors import connector_class
    from connectors.base import ACTION_NAMES

    if secrets not in (SECRETS_REQUIRED, SECRETS_WHEN_NEEDED):
        raise ValueError(f"secrets must be {SECRETS_REQUIRED!r} or {SECRETS_WHEN_NEEDED!r}, not {secrets!r}")
    context = {"secrets": secrets}

    problems: list[Problem] = []
    raw_sources = data.get("sources", [])
    sources: list[tuple[int, Any]] = []  # (index in the file, settings)
    if not isinstance(raw_sources, list):
        problems.append(Problem(("sources",), "must be a list of [[sources]] tables"))
        raw_sources = []
    for index, raw in enumerate(raw_sources):
        loc = ("sources", index)
        if not isinstance(raw, dict):
            problems.append(Problem(loc, "must be a table"))
            continue
        type_name = raw.get("type")
        if not isinstance(type_name, str):
            problems.append(Problem((*loc, "type"), "is missing: say which platform, e.g. type = \"rss\""))
            continue
        try:
            settings_class = connector_class(type_name).Settings
        except ConfigError as exc:
            problems.append(Problem((*loc, "type"), str(exc)))
            continue
        try:
            settings = settings_class.model_validate(raw, context=context)
        except ValidationError as exc:
            problems.extend(Problem((*loc, *err["loc"]), _message(err)) for err in exc.errors())
            continue
        supported = connector_class(type_name).supported_actions
        unsupported = [a for a in settings.actions if a not in supported]
        if unsupported:
            can = ", ".join(a for a in ACTION_NAMES if a in supported) or "nothing"
            problems.append(Problem((*loc, "actions"), f"a {type_name} source cannot {', '.join(unsupported)} "
                                    f"from the monitor (it can: {can}); remove it from actions"))
            continue
        first = next((i for i, known in sources if known.name == settings.name), None)
        if first is not None:
            problems.append(Problem((*loc, "name"), f"two sources are named {settings.name!r} "
                                    f"(also sources[{first}]): give each a unique name"))
        sources.append((index, settings))

    try:
        config = Config.model_validate(
            {**data, "sources": [settings for _, settings in sources], "path": path}, context=context
        )
    except ValidationError as exc:
        problems.extend(Problem(tuple(err["loc"]), _message(err)) for err in exc.errors())
        config = None
    if problems:
        where = str(path) if path else "configuration"
        lines = [problem.describe(where, text) for problem in problems]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines))
    _name_unresolved(config)
    return config


@dataclass(frozen=True)
class Problem:
    loc: tuple
    message: str

    def describe(self, where: str, text: str) -> str:
        key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in self.loc).replace(".[", "[")
        line = _line_of(self.loc, text)
        at = f"{where}, line {line}" if line else where
        return f"{key}: {self.message} ({at})"


_SECRET_KEY = re.compile(r"token|password|secret|key", re.IGNORECASE)


#: what to write instead, for a value of the wrong TOML type (the sections are strict)
_TYPE_FIXES = {
    "int_type": "must be a whole number, written without quotes",
    "float_type": "must be a number, written without quotes",
    "bool_type": "must be true or false, written without quotes",
    "string_type": 'must be text in double quotes, e.g. "..."',
    "list_type": 'must be a list in square brackets, e.g. ["...", "..."]',
    "dict_type": "must be a table: a [section] of its own, or { key = value, ... }",
    "model_type": "must be a table: a [section] of its own, or { key = value, ... }",
}


def _message(error: dict[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key (check its spelling; config/monitor.example.toml lists every key)"
    if error["type"] == "missing":
        return "is required"
    message = _TYPE_FIXES.get(error["type"], error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    # an address's password or query key is masked here as everywhere (see monitor.redact)
    message = redact_urls(message)
    value = error.get("input")
    secret = any(isinstance(part, str) and _SECRET_KEY.search(part) for part in error["loc"])
    if isinstance(value, (str, int, float, bool)) and redact_urls(repr(value)) not in message and not secret:
        message = f"{message} (got {redact_urls(repr(value))})"
    return message


def _line_of(loc: tuple, text: str) -> int | None:
    """Best-effort line number of the key named by ``loc`` in the TOML text."""
    if not text or not loc:
        return None
    lines = text.splitlines()
    start, end = 0, len(lines)
    keys = [part for part in loc if isinstance(part, str)]
    if loc[0] == "sources" and len(loc) > 1 and isinstance(loc[1], int):
        headers = [i for i, line in enumerate(lines) if re.match(r"^\s*\[\[\s*sources\s*\]\]", line)]
        if loc[1] < len(headers):
            start = headers[loc[1]]
            end = headers[loc[1] + 1] if loc[1] + 1 < len(headers) else len(lines)
        keys = keys[1:]
    elif len(keys) > 1:
        header = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(map(re.escape, keys[:-1])) + r"\s*\]")
        for i, line in enumerate(lines):
            if header.match(line):
                start = i
                break
        keys = keys[-1:]
    if not keys:
        return start + 1 if start else None
    pattern = re.compile(r'^\s*"?' + re.escape(keys[-1]) + r'"?\s*=')
    for i in range(start, end):
        if pattern.match(lines[i]):
            return i + 1
    section = re.compile(r"^\s*\[\s*" + re.escape(keys[-1]) + r"\s*\]")
    for i, line in enumerate(lines):
        if section.match(line):
            return i + 1
    return None
