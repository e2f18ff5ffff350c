"""OAuth 2.0 access tokens kept fresh with a refresh token (RFC 6749 section 6).

A school's server cannot sign in interactively, so a person authorises the monitor once and its
configuration keeps the long-lived refresh token; the short-lived access token is asked for when
needed and asked for again shortly before it expires, from the connector's clock. The token
request is a form body (``application/x-www-form-urlencoded``), as RFC 6749 section 4.1.3 and
Google's token endpoint require (https://developers.google.com/identity/protocols/oauth2/web-server,
"Refreshing an access token").
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from connectors.base import AuthError, Connector, TransientError
from connectors.webapi import bearer_token, body_json, send

logger = logging.getLogger(__name__)

#: an access token is renewed this long before the expiry the server gave
RENEW_BEFORE = timedelta(minutes=5)
#: when the server does not say how long a token lasts
DEFAULT_LIFETIME = timedelta(hours=1)


class RefreshingToken:
    """The access token of one connector; ``header()`` gives a current ``Authorization`` header."""

    def __init__(self, connector: Connector, token_url: str, form: dict[str, str], *, renew_hint: str):
        self.connector = connector
        self.token_url = token_url
        self.form = {"grant_type": "refresh_token", **form}
        self.renew_hint = renew_hint
        self._token: str | None = None
        self._expires_at: datetime | None = None

    def header(self) -> dict[str, str]:
        if self._token is None or self._expires_at is None or self.connector.clock() >= self._expires_at - RENEW_BEFORE:
            self._refresh()
        return {"Authorization": f"Bearer {self._token}"}

    def forget(self) -> None:
        """Drop the access token (the API refused it before its time): the next call asks again."""
        self._token = self._expires_at = None

    def _refresh(self) -> None:
        response = send(self.connector, "POST", self.token_url, data=self.form,
                        headers={"Accept": "application/json"})
        body = body_json(response)
        body = body if isinstance(body, dict) else {}
        if response.status_code in (400, 401) and body.get("error") in ("invalid_grant", "invalid_client",
                                                                         "unauthorized_client"):
            raise AuthError(f"{self.connector.name}: the token endpoint refused the refresh "
                            f"({body['error']}: {str(body.get('error_description') or '')[:200]}); {self.renew_hint}")
        if response.status_code != 200 or not isinstance(body.get("access_token"), str) or not body["access_token"]:
            raise TransientError(f"{self.connector.name}: the token endpoint answered HTTP {response.status_code} "
                                 f"without an access token ({str(body.get('error') or 'unreadable body')[:100]})")
        self._token = bearer_token(body["access_token"], f"{self.connector.name}: the token endpoint")
        self._expires_at = self.connector.clock() + _lifetime(body.get("expires_in"))
        logger.info("source=%s got a new access token, valid until %s", self.connector.name,
                    self._expires_at.isoformat(timespec="seconds"))


def _lifetime(expires_in: Any) -> timedelta:
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)) or not 0 < expires_in < 10**7:
        return DEFAULT_LIFETIME
    return timedelta(seconds=expires_in)
