"""What every fake platform offers, so that one contract suite and the demo can drive them all."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from monitor.demo.fakes.server import FakeServer


class FakePlatform(FakeServer):
    """A fake platform: a FakeServer with in-memory content and a few levers.

    ``add_comment`` and ``add_school_reply`` return the native id that the connector will report
    for the new record, so tests can compare what was posted with what was stored.
    """

    type: ClassVar[str]
    #: True where the platform has comments that the school's account answers (official sources)
    has_threads: ClassVar[bool] = True

    def source_config(self, name: str) -> dict[str, Any]:
        """A raw ``[[sources]]`` table (as parsed from TOML) pointing at this server."""
        raise NotImplementedError

    def add_comment(
        self, text: str, *, author: str = "A Parent", at: datetime | None = None, reply_to: str | None = None
    ) -> str:
        """A comment (or mention) by a member of the public; ``reply_to`` a native id to answer."""
        raise NotImplementedError

    def add_school_reply(self, to: str, text: str, *, at: datetime | None = None) -> str:
        """A reply by the school's own account under the comment ``to``."""
        raise NotImplementedError

    def remove(self, native_id: str) -> None:
        """The record disappears from the platform (deleted or hidden)."""
        raise NotImplementedError

    def add_malformed(self) -> None:
        """A record the connector must skip (missing id, bad timestamp...); the rest must be kept."""
        raise NotImplementedError

    def expire_credentials(self) -> None:
        """From now on the platform refuses the configured credentials as expired."""
        raise NotImplementedError

    def renew_credentials(self) -> None:
        """The credentials work again."""
        raise NotImplementedError
