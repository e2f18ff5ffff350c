"""Email through smtplib: STARTTLS or implicit TLS, login, a text part and an HTML alternative.

The Message-ID is derived from the row's idempotency key, so a message sent twice (after a send
whose answer never came) carries the same Message-ID both times and mail clients can tell.
SMTP has no way to ask whether a message arrived: :meth:`find_sent` cannot tell and the message is
sent again (see ``docs/ALERTS.md`` for the guarantee).

A payload that already carries ``subject`` with ``text`` and/or ``html`` (the weekly digest) is sent
as given; its optional ``images`` (``{content_id: base64 PNG}``) are attached inline by Content-ID.
"""

from __future__ import annotations

import base64
import binascii
import logging
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from monitor.clock import Clock, system_clock
from monitor.config import EmailSettings
from monitor.errors import ChannelRefused, DeliveryInDoubt, NotifyError, PermanentNotifyError
from monitor.notify.base import Message, Notifier, Receipt, key_digest
from monitor.notify.render import email_parts

logger = logging.getLogger(__name__)


class EmailNotifier(Notifier):
    channel = "email"

    def __init__(
        self, settings: EmailSettings, *, tz: ZoneInfo, school: str, clock: Clock = system_clock,
        ssl_context: ssl.SSLContext | None = None,
    ):
        self.settings = settings
        self.tz = tz
        self.school = school
        self.clock = clock
        self.ssl_context = ssl_context or ssl.create_default_context()

    def send(self, message: Message) -> Receipt:
        if not message.recipient:
            raise PermanentNotifyError(f"email alert {message.key} has no recipient address")
        email = self.build(message)
        smtp: _SMTP | None = None
        try:
            smtp = self._connect()
            smtp.send_message(email)
        except smtplib.SMTPAuthenticationError as exc:
            raise ChannelRefused(
                f"the SMTP server {self.settings.host} refused the login ({exc.smtp_code} {_text(exc.smtp_error)}): "
                "check notify.email.username and notify.email.password"
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _by_code(code, f"the SMTP server refused {message.recipient} ({code} {_text(reply)})") from exc
        except smtplib.SMTPSenderRefused as exc:
            raise _by_code(exc.smtp_code, f"the SMTP server refused the sender {self.settings.sender} "
                           f"({exc.smtp_code} {_text(exc.smtp_error)}): check notify.email.sender", channel=True) from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, f"the SMTP server answered {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            what = f"{type(exc).__name__}: {exc}"
            if smtp is not None and smtp.data_sent:
                raise DeliveryInDoubt(f"the SMTP server {self.settings.host} gave no answer after the message ({what})") from exc
            raise NotifyError(f"cannot send through {self.settings.host}:{self.settings.port} ({what})") from exc
        finally:
            if smtp is not None:
                _quit(smtp)
        return Receipt(id=email["Message-ID"], detail={"to": message.recipient})

    def build(self, message: Message) -> EmailMessage:
        parts = email_parts(message.kind, message.payload, self.tz, self.school)
        email = EmailMessage()
        email["Subject"] = " ".join(parts.subject.split())[:250]
        email["From"] = self.settings.sender
        email["To"] = message.recipient
        email["Date"] = format_datetime(self.clock())
        email["Message-ID"] = message_id(message.key, self.settings.sender)
        email["X-Monitor-Key"] = message.key
        email.set_content(parts.text or " ")
        email.add_alternative(parts.html, subtype="html")
        images = message.payload.get("images") or {}
        if images:
            html_part = email.get_payload()[1]
            for content_id, data in images.items():
                try:
                    png = base64.b64decode(data, validate=True)
                except (binascii.Error, ValueError, TypeError):
                    logger.warning("email %s: image %r is not base64 and was left out", message.key, content_id)
                    continue
                html_part.add_related(png, maintype="image", subtype="png", cid=f"<{content_id}>")
        return email

    def _connect(self) -> "_SMTP":
        settings = self.settings
        timeout = settings.timeout.total_seconds()
        if settings.ssl:
            smtp = _SMTP_SSL(settings.host, settings.port, timeout=timeout, context=self.ssl_context)
        else:
            smtp = _SMTP(settings.host, settings.port, timeout=timeout)
        try:
            smtp.ehlo()
            if settings.starttls and not settings.ssl:
                smtp.starttls(context=self.ssl_context)
                smtp.ehlo()
            if settings.username is not None and settings.password is not None:
                smtp.login(settings.username.get_secret_value(), settings.password.get_secret_value())
        except BaseException:
            _quit(smtp)
            raise
        return smtp


class _SMTP(smtplib.SMTP):
    """Remembers whether the message itself went out: after that, a lost answer leaves it in doubt."""

    data_sent = False

    def data(self, msg):  # noqa: ANN001 - smtplib's signature
        self.data_sent = True
        return super().data(msg)


class _SMTP_SSL(_SMTP, smtplib.SMTP_SSL):
    pass


def message_id(key: str, sender: str) -> str:
    """``<digest-of-key@sender's domain>``: the same key always gives the same Message-ID."""
    domain = sender.rpartition("@")[2] or socket.getfqdn()
    return f"<alert.{key_digest(key)}@{domain}>"


def _by_code(code: int, message: str, channel: bool = False) -> NotifyError:
    if 500 <= code < 600:
        return ChannelRefused(message) if channel else PermanentNotifyError(message)
    return NotifyError(message)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
