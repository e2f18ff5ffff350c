"""A fake Teams Workflows webhook ("Post to a channel when a webhook request is received").

The workflow's trigger URL has the shape of Power Automate's HTTP trigger
(``/workflows/<id>/triggers/manual/paths/invoke?api-version=...&sp=...&sv=1.0&sig=<signature>``),
and like it the fake answers ``202 Accepted`` with an empty body and posts nothing it cannot read.
It is at least as strict as Teams:

- the body must be JSON ``{"type": "message", "attachments": [...]}`` with at least one attachment of
  ``contentType: application/vnd.microsoft.card.adaptive`` whose ``content`` is an ``AdaptiveCard``
  with a ``version`` and a ``body`` list: else ``400``;
- a message over 28 KB is refused with ``413`` (the Teams limit for a posted message);
- a wrong or missing ``sig`` is ``401``, an unknown workflow ``404`` (a deleted workflow);
- more than 4 requests in one second are ``429`` with ``Retry-After`` (the webhook's documented rate);
- :meth:`outage` makes it answer ``503`` (or hang past the client's timeout) until :meth:`recover`.

``cards`` holds the Adaptive Cards posted, in order.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any, Callable

from monitor.demo.fakes.server import FakeServer, Request, Response

CARD = "application/vnd.microsoft.card.adaptive"
#: Teams refuses a message larger than about 28 KB
MAX_BYTES = 28 * 1024
#: requests accepted per second before 429
RATE = 4


class FakeTeams(FakeServer):
    """``seconds`` is the clock of the rate limit (a test passes its manual clock's)."""

    def __init__(self, *, seconds: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.seconds = seconds
        self.rate = RATE
        self.workflow = secrets.token_hex(16)
        self.signature = secrets.token_urlsafe(24)
        self.cards: list[dict[str, Any]] = []
        self.retry_after = 2
        self._recent: list[float] = []
        self._outage: str | None = None
        self._state = threading.Lock()
        self.route("POST", r"/workflows/(?P<workflow>[0-9a-f]+)/triggers/manual/paths/invoke")(self._invoke)

    @property
    def webhook_url(self) -> str:
        """What ``notify.teams.webhook_url`` should say."""
        return (f"{self.url}/workflows/{self.workflow}/triggers/manual/paths/invoke"
                f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.signature}")

    def outage(self, how: str = "503") -> None:
        """``"503"``: every request fails; ``"hang"``: requests wait 30 s before a 503."""
        with self._state:
            self._outage = how

    def recover(self) -> None:
        with self._state:
            self._outage = None

    def _invoke(self, request: Request) -> Response:
        with self._state:
            outage = self._outage
        if outage == "hang":
            return Response(503, {"error": {"code": "ServiceUnavailable"}}, delay=30)
        if outage:
            return Response(503, {"error": {"code": "ServiceUnavailable", "message": "The service is unavailable."}})
        if request.params["workflow"] != self.workflow:
            return Response(404, {"error": {"code": "WorkflowNotFound", "message": "The workflow was not found."}})
        if request.query.get("sig") != self.signature:
            return Response(401, {"error": {"code": "DirectApiAuthorizationRequired",
                                            "message": "The request must be authenticated."}})
        if self._throttled():
            return Response(429, {"error": {"code": "TooManyRequests"}}, {"Retry-After": str(self.retry_after)})
        if len(request.body) > MAX_BYTES:
            return Response(413, {"error": {"code": "MessageTooLarge", "message": "Request entity too large"}})
        problem = card_problem(request)
        if problem:
            return Response(400, {"error": {"code": "InvalidRequestContent", "message": problem}})
        with self._state:
            self.cards.extend(a["content"] for a in request.json()["attachments"])
        return Response(202, b"")

    def _throttled(self) -> bool:
        now = self.seconds()
        with self._state:
            self._recent = [t for t in self._recent if 0 <= now - t < 1.0]
            if len(self._recent) >= self.rate:
                return True
            self._recent.append(now)
        return False


def card_problem(request: Request) -> str | None:
    """Why Teams would refuse this request's body, or None."""
    if not (request.header("content-type") or "").startswith("application/json"):
        return "the request body must be application/json"
    try:
        data = request.json()
    except (ValueError, UnicodeDecodeError):
        return "the request body is not JSON"
    if not isinstance(data, dict) or data.get("type") != "message":
        return 'the body must be {"type": "message", "attachments": [...]}'
    attachments = data.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return "attachments must be a non-empty list"
    for attachment in attachments:
        if not isinstance(attachment, dict) or attachment.get("contentType") != CARD:
            return f"each attachment's contentType must be {CARD}"
        content = attachment.get("content")
        if not isinstance(content, dict) or content.get("type") != "AdaptiveCard":
            return "each attachment's content must be an AdaptiveCard"
        if not isinstance(content.get("version"), str) or not isinstance(content.get("body"), list):
            return "an AdaptiveCard needs a version and a body list"
        try:
            json.dumps(content)
        except (TypeError, ValueError):
            return "the card is not JSON"
    return None
