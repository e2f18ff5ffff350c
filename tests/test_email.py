"""The email notifier against aiosmtpd on loopback: plain, STARTTLS, implicit TLS, login."""

from __future__ import annotations

import base64
import re
import shutil
import ssl
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from monitor.config import EmailSettings
from monitor.errors import ChannelRefused, DeliveryInDoubt, NotifyError, PermanentNotifyError
from monitor.notify.base import Message
from monitor.notify.email import EmailNotifier, message_id
from monitor.sanitize import printable
from tests.smtp_server import PASSWORD, USER, Recorder, authenticator, free_port, self_signed, start_smtp

HOSTILE = "<!channel> <b>x</b> <script>"
LONDON = ZoneInfo("Europe/London")
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake-image").decode()


@pytest.fixture
def smtp():
    recorder = Recorder()
    controller = start_smtp(recorder)
    yield recorder, controller.port
    controller.stop()


def notifier_for(port: int, clock, **settings) -> EmailNotifier:
    values = {"host": "127.0.0.1", "port": port, "starttls": False, "sender": "monitor@school.example",
              "timeout": "5s", **settings}
    ssl_context = values.pop("ssl_context", None)
    return EmailNotifier(EmailSettings(**values), tz=LONDON, school="Ravens Wood", clock=clock, ssl_context=ssl_context)


def message(key: str = "flagged:item:7|email|mod@school.example", **item) -> Message:
    payload_item = {"item_id": 7, "case_id": 3, "source": "facebook-page", "author": "A Parent", "text": "hello",
                    "url": "https://facebook.com/1?a=1&b=2", "due_at": "2026-07-17T09:00:00+00:00",
                    "labels": {"insult": 0.91}, **item}
    return Message(key=key, kind="flagged", channel="email", recipient="mod@school.example",
                   payload={"item": payload_item}, created_at=datetime(2026, 11, 16, 9, tzinfo=timezone.utc))


def test_sends_text_and_html_with_a_message_id_from_the_key(smtp, clock):
    recorder, port = smtp
    receipt = notifier_for(port, clock).send(message())
    [sent] = recorder.messages
    assert sent["Message-ID"] == receipt.id == message_id(message().key, "monitor@school.example")
    assert receipt.id.endswith("@school.example>")
    assert sent["To"] == "mod@school.example" and sent["From"] == "monitor@school.example"
    assert "Possibly abusive comment on facebook-page" in sent["Subject"]
    text = sent.get_body(("plain",)).get_content()
    html = sent.get_body(("html",)).get_content()
    assert "A Parent on facebook-page" in text and "Acknowledge by: Fri 17 Jul 2026 10:00 BST" in text
    assert 'href="https://facebook.com/1?a=1&amp;b=2"' in html
    assert recorder.envelopes == [("monitor@school.example", ["mod@school.example"])]


def test_the_same_key_always_gives_the_same_message_id():
    assert message_id("k|email|a@b", "m@s.org") == message_id("k|email|a@b", "m@s.org")
    assert message_id("k|email|a@b", "m@s.org") != message_id("k|email|c@d", "m@s.org")


def test_a_hostile_comment_arrives_as_literal_text(smtp, clock):
    recorder, port = smtp
    notifier_for(port, clock).send(message(text=HOSTILE, author="<img src=x onerror=alert(1)>"))
    [sent] = recorder.messages
    html = sent.get_body(("html",)).get_content()
    text = sent.get_body(("plain",)).get_content()
    assert "&lt;!channel&gt; &lt;b&gt;x&lt;/b&gt; &lt;script&gt;" in html
    assert "<script" not in html and "<b>x" not in html and "<img" not in html
    assert HOSTILE in text  # the plain part shows it as written


#: clears the screen, homes the cursor and prints a green all-clear (ESC, and the C1 CSI 0x9b)
SCREEN_WIPE = "\x1b[2J\x1b[H\x1b[32mAll cases acknowledged\x1b[0m\x9b31m"
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def test_control_characters_in_a_comment_arrive_inert_and_names_on_one_line(smtp, clock):
    """A plain-text email read in a terminal mail client (mutt) would run ESC sequences: both parts show
    them as escapes (``\\x1b``), as the terminal does; the comment keeps its lines, a name stays on one."""
    recorder, port = smtp
    text = f"idiot {SCREEN_WIPE}\r\nsecond line\u202eevil\x07\x1c end"
    notifier_for(port, clock).send(message(text=text, author="Troll\x1b[2J\n#2 acknowledged\u2028by Head",
                                           why="flagged\x1b]0;title\x07", reasons=["insult\x1b[8m"]))
    [sent] = recorder.messages
    plain, html = (sent.get_body((subtype,)).get_content().replace("\r\n", "\n") for subtype in ("plain", "html"))
    for part in (plain, html, sent["Subject"]):
        assert not UNSAFE.search(part), repr(UNSAFE.search(part))
    assert "  idiot \\x1b[2J\\x1b[H\\x1b[32mAll cases acknowledged\\x1b[0m\\x9b31m\n  second line\\u202eevil\\x07\\x1c end\n" in plain
    assert "idiot \\x1b[2J\\x1b[H\\x1b[32mAll cases acknowledged" in html and "second line\\u202eevil" in html
    assert "\nTroll [2J #2 acknowledged by Head on facebook-page:\n" in plain
    assert "Listed as: flagged\\x1b]0;title\\x07\n" in plain and "Why: insult\\x1b[8m\n" in plain


def test_a_digest_sent_by_email_shows_control_characters_inert(smtp, clock):
    recorder, port = smtp
    digest = Message(key="digest:2026-W47|email|head@school.example", kind="digest", channel="email",
                     recipient="head@school.example", created_at=clock(),
                     payload={"subject": f"Weekly digest {SCREEN_WIPE}", "text": f"one\n{SCREEN_WIPE}\ntwo",
                              "html": f"<p>{SCREEN_WIPE}</p>\n<p>two</p>"})
    notifier_for(port, clock).send(digest)
    [sent] = recorder.messages
    plain, html = (sent.get_body((subtype,)).get_content().replace("\r\n", "\n") for subtype in ("plain", "html"))
    for part in (plain, html, sent["Subject"]):
        assert not UNSAFE.search(part), repr(UNSAFE.search(part))
    assert plain.splitlines()[:3] == ["one", printable(SCREEN_WIPE), "two"]
    assert f"<p>{printable(SCREEN_WIPE)}</p>" in html


def test_a_digest_payload_is_sent_as_given_with_inline_images(smtp, clock):
    recorder, port = smtp
    digest = Message(key="digest:2026-W47|email|head@school.example", kind="digest", channel="email",
                     recipient="head@school.example", created_at=clock(),
                     payload={"subject": "Weekly digest", "text": "plain body",
                              "html": '<p>chart</p><img src="cid:chart1">', "images": {"chart1": PNG, "bad": "***"}})
    notifier_for(port, clock).send(digest)
    [sent] = recorder.messages
    assert sent["Subject"] == "Weekly digest"
    assert sent.get_body(("plain",)).get_content().strip() == "plain body"
    [image] = [part for part in sent.walk() if part.get_content_type() == "image/png"]
    assert image["Content-ID"] == "<chart1>" and image.get_content() == base64.b64decode(PNG)


def test_login_and_refused_login(clock):
    recorder = Recorder()
    controller = start_smtp(recorder, authenticator=authenticator, auth_require_tls=False)
    try:
        notifier_for(controller.port, clock, username=USER, password=PASSWORD).send(message())
        assert len(recorder.messages) == 1
        with pytest.raises(ChannelRefused, match="refused the login"):
            notifier_for(controller.port, clock, username=USER, password="wrong").send(message())
        assert len(recorder.messages) == 1
    finally:
        controller.stop()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_starttls_and_implicit_tls(tmp_path, clock):
    cert, key = self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))
    recorder = Recorder()
    starttls = start_smtp(recorder, tls_context=server_context, require_starttls=True,
                          authenticator=authenticator)
    # aiosmtpd only knows of TLS it negotiated itself (STARTTLS): on implicit TLS, allow AUTH anyway
    implicit = start_smtp(recorder, server_hostname="127.0.0.1", ssl_context=server_context,
                          authenticator=authenticator, auth_require_tls=False)
    try:
        notifier_for(starttls.port, clock, starttls=True, username=USER, password=PASSWORD,
                     ssl_context=client_context).send(message(key="a"))
        notifier_for(implicit.port, clock, ssl=True, starttls=False, username=USER, password=PASSWORD,
                     ssl_context=client_context).send(message(key="b"))
        assert [m["X-Monitor-Key"] for m in recorder.messages] == ["a", "b"]
        with pytest.raises(NotifyError):  # the server insists on STARTTLS
            notifier_for(starttls.port, clock, username=USER, password=PASSWORD).send(message(key="c"))
    finally:
        starttls.stop()
        implicit.stop()


def test_temporary_refusal_is_retryable_and_permanent_refusal_is_not(smtp, clock):
    recorder, port = smtp
    recorder.reply = "451 4.3.0 try again later"
    with pytest.raises(NotifyError) as caught:
        notifier_for(port, clock).send(message())
    assert type(caught.value) is NotifyError
    recorder.reply = "554 5.7.1 rejected"
    with pytest.raises(PermanentNotifyError) as caught:
        notifier_for(port, clock).send(message())
    assert not isinstance(caught.value, ChannelRefused)


def test_no_server_is_retryable_and_not_in_doubt(clock):
    with pytest.raises(NotifyError) as caught:
        notifier_for(free_port(), clock).send(message())
    assert type(caught.value) is NotifyError and not isinstance(caught.value, DeliveryInDoubt)


def test_a_message_without_recipient_is_permanent(clock):
    bad = Message(**{**message().__dict__, "recipient": None})
    with pytest.raises(PermanentNotifyError):
        notifier_for(free_port(), clock).send(bad)
