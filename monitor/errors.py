"""The monitor's errors, in one tree.

::

    MonitorError                 anything the monitor itself reports
    ├── ConfigError              the configuration file (or a secret it names) is wrong
    ├── StoreError               the database cannot be opened or migrated
    │   └── StoreDenied          this user may not open it: run as the service's user
    ├── SourceError              a connector could not fetch its source
    │   ├── AuthError            credentials refused: a person must renew them
    │   │   └── ActionNeeded     the account itself blocks us (credits used up, a spending cap
    │   │                        reached): a person must act on it; the message says what to do
    │   ├── RateLimited          the platform asked us to wait until ``retry_at``
    │   └── TransientError       outage, timeout, 5xx, unreadable body: try again later
    └── NotifyError              an alert could not be delivered
        ├── DeliveryInDoubt      the provider may have got it: check before sending again
        └── PermanentNotifyError retrying will not help (bad token, unknown channel)
            ├── ChannelRefused   the whole channel refuses us (revoked token, wrong password)
            └── ContentRefused   the provider refused this message's content (size, shape)

Third-party exceptions are translated where they are caught (``raise AuthError(...) from exc``),
with a message that a school's IT technician can act on.
"""

from __future__ import annotations

import math

from datetime import datetime, timedelta

from monitor.redact import redact_urls

#: The longest wait a platform can impose (Retry-After, a reset header): a larger one is taken as this.
MAX_WAIT = timedelta(hours=24)


class MonitorError(Exception):
    """Base of every error the monitor raises on purpose."""


class ConfigError(MonitorError):
    """The configuration is invalid; the message names the key, the value and the fix."""


class StoreError(MonitorError):
    """The database cannot be used (unreadable, too new, disk full)."""


class StoreDenied(StoreError):
    """The system refused this user the database (or its folder): another user (the service's) owns it."""


class SourceError(MonitorError):
    """A source could not be fetched.

    The message's URLs are redacted (userinfo and query values): it is shown and stored everywhere.
    """

    def __init__(self, message: str = "", *args: object):
        super().__init__(redact_urls(str(message)), *args)


class AuthError(SourceError):
    """The platform refused the credentials: monitoring of this source has stopped."""


class ActionNeeded(AuthError):
    """The platform serves nothing more until a person acts on the school's account there (buys
    credits, raises a spending cap): no retry helps, so it is alerted at once like a refused
    credential. The message says what to do."""


class RateLimited(SourceError):
    """The platform asked us to wait; ``retry_at`` is an aware UTC datetime, or None if unknown.

    The pipeline waits no longer than :data:`MAX_WAIT` whatever ``retry_at`` says.
    """

    def __init__(self, message: str, retry_at: datetime | None = None):
        super().__init__(message)
        self.retry_at = retry_at


class TransientError(SourceError):
    """A failure that may pass by itself: network, timeout, 5xx, malformed body."""


class NotifyError(MonitorError):
    """An alert could not be delivered this time; it stays in the outbox.

    ``retry_after`` is a number of seconds the provider asked us to wait, if it said: a provider's
    header is untrusted, so it is read with :func:`wait_seconds` (at most :data:`MAX_WAIT`).
    """

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = None if retry_after is None else wait_seconds(retry_after)


def wait_seconds(value: object) -> float | None:
    """A wait asked for from outside (a ``Retry-After`` header's seconds, or a number), as seconds
    between 0 and :data:`MAX_WAIT`; None when it is not a number at all."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_WAIT.total_seconds())


class PermanentNotifyError(NotifyError):
    """Retrying cannot help until a person changes something (token, channel, password)."""


class DeliveryInDoubt(NotifyError):
    """The request left but no answer came back (timeout, dropped connection): it may have arrived."""


class ChannelRefused(PermanentNotifyError):
    """Every message on this channel will be refused until a person fixes the configuration."""


class ContentRefused(PermanentNotifyError):
    """The provider refused what the message holds (too long, malformed blocks), not where it goes.

    ``error`` is the provider's short code (Slack's ``invalid_blocks``, ``msg_too_long``...).
    """

    def __init__(self, message: str, error: str = ""):
        super().__init__(message)
        self.error = error
