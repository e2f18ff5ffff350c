"""The notifier interface: send one outbox message, return the provider's receipt.

A notifier translates its provider's failures into the error tree:

- :class:`~monitor.errors.NotifyError`: not delivered this time, try again (``retry_after`` if the
  provider said how long to wait);
- :class:`~monitor.errors.DeliveryInDoubt`: the request left and no answer came back, so the
  message may have arrived; the dispatcher calls :meth:`Notifier.find_sent` before sending again;
- :class:`~monitor.errors.PermanentNotifyError`: this message can never be delivered as addressed
  (unknown channel, refused recipient);
- :class:`~monitor.errors.ChannelRefused`: nothing can be delivered on this channel until a person
  fixes the configuration (revoked token, wrong password).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class Message:
    """One outbox row to deliver: ``key`` is its idempotency key, unique in the outbox."""

    key: str
    kind: str
    channel: str
    recipient: str | None
    payload: dict[str, Any]
    created_at: datetime
    source: str | None = None
    item_id: int | None = None
    case_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class Receipt:
    """What the provider answered: Slack's message ``ts``, or the email's Message-ID."""

    id: str
    detail: dict[str, Any] = field(default_factory=dict)


class Notifier(ABC):
    """Sends messages on one channel (``"slack"`` or ``"email"``)."""

    channel: ClassVar[str]

    @abstractmethod
    def send(self, message: Message) -> Receipt:
        """Deliver ``message`` once, or raise a NotifyError saying whether to try again."""

    def find_sent(self, message: Message) -> Receipt | None:
        """After a send that may or may not have arrived: the receipt if it did, None if not.

        A channel that cannot tell returns None, and the message is sent again.
        """
        return None

    def close(self) -> None:
        """Release connections."""


def key_digest(key: str, length: int = 32) -> str:
    """A short stable token from an idempotency key (Message-IDs, Slack metadata)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:length]
