"""A fake Slack Web API on loopback, with a Socket Mode websocket endpoint.

It answers what the monitor uses, in Slack's wire format (every method is a POST to
``/api/<method>`` with a JSON or form body, or a GET with query parameters, and a bearer token):
``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``, ``conversations.history`` (with
message metadata, ``oldest``, ``latest`` and ``inclusive``), ``conversations.open``, ``users.info``,
``usergroups.users.list``, ``auth.test``, ``views.open`` (a modal, with a trigger id from a click
used once, checked against Slack's view limits) and ``apps.connections.open``, which returns the
``ws://`` URL of the websocket endpoint it serves.
Every message is recorded; tests script faults on top (``script(Response(429, headers={"Retry-After":
"3"}))``, ``ok:false`` errors) and can push a ``block_actions`` click through the websocket and wait
for the client's ack, and submit an opened modal (``view_submission``) the same way.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from monitor.clock import Clock, system_clock
from monitor.demo.fakes.server import FakeServer, Request, Response

BOT_TOKEN = "xoxb-fake-bot-token"
APP_TOKEN = "xapp-fake-app-token"
CHANNEL = "C0MODERATE"
#: the fake workspace's moderator (Jane Smith); other ids are strangers unless a test adds them
MODERATOR_ID = "U0MODERATOR"


@dataclass(frozen=True)
class Ephemeral:
    channel: str
    user: str
    text: str


@dataclass
class Posted:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any] | None
    updates: list[dict[str, Any]] = field(default_factory=list)


class FakeSlack(FakeServer):
    """Use as a context manager; ``base_url`` is what ``notify.slack.base_url`` should say."""

    def __init__(self, *, clock: Clock = system_clock, channels: tuple[str, ...] = (CHANNEL,)):
        super().__init__()
        self.clock = clock
        self.channels = set(channels)
        self.tokens = {BOT_TOKEN}
        self.app_tokens = {APP_TOKEN}
        self.users: dict[str, dict[str, Any]] = {
            MODERATOR_ID: {"id": MODERATOR_ID, "name": "jsmith", "real_name": "Jane Smith",
                            "profile": {"real_name": "Jane Smith", "display_name": "Jane"}},
        }
        self.messages: list[Posted] = []
        self.ephemeral: list[Ephemeral] = []
        #: user group id -> its members' ids (``usergroups.users.list``); ``None`` members: no_such_subteam
        self.usergroups: dict[str, list[str]] = {}
        self.usergroup_calls = 0
        self.acks: dict[str, dict[str, Any]] = {}
        #: modals opened with ``views.open``: view id -> {"view": ..., "user": ...}
        self.views: dict[str, dict[str, Any]] = {}
        self._triggers: dict[str, str] = {}  # trigger id -> the user whose click issued it (usable once)
        self._last_ts = 0.0
        self._ids = itertools.count(1)
        self._changed = threading.Condition()
        self._sockets: list[ServerConnection] = []
        self._ws = None
        for method, handler in {
            "chat.postMessage": self._post_message, "chat.update": self._update,
            "conversations.history": self._history, "conversations.open": self._open,
            "chat.postEphemeral": self._post_ephemeral, "usergroups.users.list": self._usergroup_users,
            "users.info": self._user_info, "auth.test": self._auth_test,
            "apps.connections.open": self._connections_open, "views.open": self._views_open,
        }.items():
            self._api(method, handler)

    # -- set-up and levers ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/"

    @property
    def ws_url(self) -> str:
        host, port = self._ws.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link"

    def start(self) -> "FakeSlack":
        super().start()
        self._ws = serve(self._serve_socket, "127.0.0.1", 0)
        threading.Thread(target=self._ws.serve_forever, daemon=True, name="fake-slack-ws").start()
        return self

    def stop(self) -> None:
        if self._ws is not None:
            self._ws.shutdown()
            self._ws = None
        super().stop()

    def revoke_token(self) -> None:
        self.tokens.clear()

    def messages_in(self, channel: str = CHANNEL) -> list[Posted]:
        return [m for m in self.messages if m.channel == channel]

    # -- socket mode ------------------------------------------------------------------------------

    def wait_connected(self, timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: bool(self._sockets), timeout)

    def push_action(self, payload: dict[str, Any]) -> str:
        """Send a ``block_actions`` (or ``view_submission``) envelope to every connected client; returns
        its envelope id. A click's ``trigger_id`` becomes usable, once, for ``views.open``."""
        if isinstance(payload.get("trigger_id"), str) and isinstance(payload.get("user"), dict):
            with self._lock:
                self._triggers[payload["trigger_id"]] = payload["user"].get("id")
        envelope_id = str(uuid.uuid4())
        envelope = {"envelope_id": envelope_id, "type": "interactive", "accepts_response_payload": False,
                    "payload": payload, "retry_attempt": 0, "retry_reason": ""}
        with self._changed:
            sockets = list(self._sockets)
        for socket in sockets:
            socket.send(json.dumps(envelope))
        return envelope_id

    def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: envelope_id in self.acks, timeout)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Wait until ``condition()`` holds (checked after each API call or socket message)."""
        with self._changed:
            return self._changed.wait_for(condition, timeout)

    def _serve_socket(self, socket: ServerConnection) -> None:
        socket.send(json.dumps({"type": "hello", "num_connections": 1,
                                "connection_info": {"app_id": "A0FAKE"}, "debug_info": {"host": "fake"}}))
        with self._changed:
            self._sockets.append(socket)
            self._changed.notify_all()
        try:
            for raw in socket:
                try:
                    message = json.loads(raw)
                except (TypeError, ValueError):
                    continue
                if isinstance(message, dict) and message.get("envelope_id"):
                    with self._changed:
                        self.acks[message["envelope_id"]] = message
                        self._changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                self._sockets.remove(socket)
                self._changed.notify_all()

    # -- the Web API ------------------------------------------------------------------------------

    def _api(self, method: str, handler: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        app_level = method == "apps.connections.open"

        def serve_method(request: Request) -> Response:
            token = (request.header("authorization") or "").removeprefix("Bearer ").strip()
            if token not in (self.app_tokens if app_level else self.tokens):
                return Response(200, {"ok": False, "error": "invalid_auth" if token else "not_authed"})
            answer = handler(_params(request))
            with self._changed:
                self._changed.notify_all()
            return Response(200, answer)

        self.route("POST", f"/api/{method}")(serve_method)
        self.route("GET", f"/api/{method}")(serve_method)

    def _next_ts(self) -> str:
        with self._lock:
            now = max(self.clock().timestamp(), self._last_ts + 0.000001)
            self._last_ts = now
            return f"{now:.6f}"

    def _channel(self, channel: str) -> str | None:
        if channel in self.channels:
            return channel
        if channel in self.users:
            return "D" + channel[1:]
        if channel.startswith("D") and "U" + channel[1:] in self.users:
            return channel
        return None

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(str(params.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        refused = refuse_content(params)
        if refused is not None:
            return refused
        posted = Posted(channel=channel, ts=self._next_ts(), text=params.get("text") or "",
                        blocks=_json(params.get("blocks")) or [], metadata=_json(params.get("metadata")))
        with self._lock:
            self.messages.append(posted)
        return {"ok": True, "channel": channel, "ts": posted.ts, "message": _as_message(posted, True)}

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(str(params.get("channel", "")))
        for posted in self.messages:
            if posted.channel == channel and posted.ts == params.get("ts"):
                refused = refuse_content(params)
                if refused is not None:
                    return refused
                update = {"text": params.get("text") or "", "blocks": _json(params.get("blocks")) or []}
                posted.updates.append(update)
                posted.text, posted.blocks = update["text"], update["blocks"]
                return {"ok": True, "channel": channel, "ts": posted.ts, "text": posted.text}
        return {"ok": False, "error": "message_not_found" if channel else "channel_not_found"}

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(str(params.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        user = str(params.get("user", ""))
        if user not in self.users:
            return {"ok": False, "error": "user_not_in_channel"}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        with self._lock:
            self.ephemeral.append(Ephemeral(channel=channel, user=user, text=str(params.get("text") or "")))
        return {"ok": True, "message_ts": self._next_ts()}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        """views.open (docs.slack.dev/reference/methods/views.open): a trigger id is single-use."""
        trigger = str(params.get("trigger_id") or "")
        with self._lock:
            if trigger not in self._triggers:
                return {"ok": False, "error": "invalid_trigger_id"}
            user = self._triggers.pop(trigger)
        view = _json(params.get("view"))
        problem = check_view(view)
        if problem:
            return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": [f"[ERROR] {problem}"]}}
        view_id = f"V{next(self._ids):08d}"
        with self._lock:
            self.views[view_id] = {"view": view, "user": user}
        return {"ok": True, "view": {**view, "id": view_id, "state": {"values": {}}}}

    def submission(self, view_id: str, values: dict[str, dict[str, str]], *, user: str | None = None,
                   name: str = "jsmith") -> dict[str, Any]:
        """The ``view_submission`` payload of the modal ``view_id`` with its inputs set to ``values``
        (block id -> action id -> text), as submitted by the user who opened it unless ``user`` says."""
        opened = self.views[view_id]
        view = opened["view"]
        state = {block: {action: {"type": "plain_text_input", "value": text} for action, text in actions.items()}
                 for block, actions in values.items()}
        who = user or opened["user"]
        return {"type": "view_submission", "team": {"id": "T0FAKE"}, "user": {"id": who, "username": name, "name": name},
                "api_app_id": "A0FAKE", "trigger_id": f"{next(self._ids)}.submit",
                "view": {"id": view_id, "type": "modal", "callback_id": view.get("callback_id", ""),
                         "private_metadata": view.get("private_metadata", ""), "state": {"values": state},
                         "blocks": view.get("blocks", [])}}

    def _usergroup_users(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.usergroup_calls += 1
        members = self.usergroups.get(str(params.get("usergroup", "")))
        if members is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(members)}

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(str(params.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or "inf")
        inclusive = str(params.get("inclusive", "")).lower() in ("1", "true")
        limit = min(int(params.get("limit") or 100), 999)
        start = int(params.get("cursor") or 0)
        metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")

        def within(ts: float) -> bool:
            return (oldest <= ts <= latest) if inclusive else (oldest < ts < latest)

        found = [m for m in reversed(self.messages) if m.channel == channel and within(float(m.ts))]
        page = found[start : start + limit]
        more = start + limit < len(found)
        return {"ok": True, "messages": [_as_message(m, metadata) for m in page], "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _open(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("users", "")).split(",")[0]
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": "D" + user[1:]}}

    def _user_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user", "")))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "team": "Fake School", "user": "monitor", "user_id": "U0BOT", "bot_id": "B0BOT"}

    def _connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.ws_url}


def block_actions(message: Posted, action_id: str, *, user: str = MODERATOR_ID, block_id: str | None = None,
                  name: str = "jsmith") -> dict[str, Any]:
    """The ``block_actions`` payload Slack sends when ``user`` clicks ``action_id`` in ``message``."""
    for block in message.blocks:
        if block.get("type") != "actions" or (block_id and block.get("block_id") != block_id):
            continue
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return {
                    "type": "block_actions",
                    "user": {"id": user, "username": name, "name": name},
                    "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel},
                    "channel": {"id": message.channel},
                    "message": {"ts": message.ts, "text": message.text, "blocks": message.blocks},
                    "actions": [{"action_id": action_id, "block_id": block.get("block_id"),
                                 "value": element.get("value"), "type": "button", "action_ts": message.ts}],
                    "response_url": "",
                    "trigger_id": f"{uuid.uuid4().int % 10**12}.{message.ts}",
                }
    raise LookupError(f"no {action_id!r} button in message {message.ts}")


#: Slack's documented limits (docs.slack.dev/reference/block-kit), kept here apart from the monitor's own
#: copy so that the fake checks the monitor rather than agreeing with it
LIMITS = {"blocks": 50, "section": 3000, "field": 2000, "fields": 10, "context": 10, "text_object": 3000,
          "actions": 25, "button_text": 75, "button_value": 2000, "id": 255, "header": 150, "text": 40000,
          "blocks_text": 12000}


def refuse_content(params: dict[str, Any]) -> dict[str, Any] | None:
    """Slack's answer to a message whose text or blocks break its limits, else None.

    ``msg_too_long`` past 40,000 characters of ``text``; ``invalid_blocks`` (with Slack's
    ``errors`` list of json-pointers) for a block over its limits or of an unknown shape;
    ``msg_blocks_too_long`` past about 12,000 characters of text in all the blocks together.
    """
    if len(str(params.get("text") or "")) > LIMITS["text"]:
        return {"ok": False, "error": "msg_too_long"}
    blocks = _json(params.get("blocks")) if params.get("blocks") is not None else []
    if not isinstance(blocks, list):
        return _invalid("must be an array [json-pointer:/blocks]")
    if len(blocks) > LIMITS["blocks"]:
        return _invalid(f"no more than {LIMITS['blocks']} items allowed [json-pointer:/blocks]")
    total = 0
    for index, block in enumerate(blocks):
        problem, length = _check_block(block)
        if problem:
            return _invalid(f"{problem} [json-pointer:/blocks/{index}]")
        total += length
    if total > LIMITS["blocks_text"]:
        return {"ok": False, "error": "msg_blocks_too_long"}
    return None


def _invalid(message: str) -> dict[str, Any]:
    return {"ok": False, "error": "invalid_blocks", "errors": [message],
            "response_metadata": {"messages": [f"[ERROR] {message}"]}}


def _text_of(obj: Any, limit: int) -> tuple[str | None, int]:
    if not isinstance(obj, dict) or obj.get("type") not in ("mrkdwn", "plain_text") or not isinstance(obj.get("text"), str):
        return "must be a text object", 0
    if not obj["text"]:
        return "must be more than 0 characters", 0
    if len(obj["text"]) > limit:
        return f"must be less than {limit + 1} characters", 0
    return None, len(obj["text"])


def _check_block(block: Any) -> tuple[str | None, int]:
    """(what is wrong, or None; the characters of text it holds)."""
    if not isinstance(block, dict):
        return "must be an object", 0
    if isinstance(block.get("block_id"), str) and len(block["block_id"]) > LIMITS["id"]:
        return f"block_id must be less than {LIMITS['id'] + 1} characters", 0
    kind = block.get("type")
    texts: list[tuple[Any, int]] = []
    if kind == "section":
        fields = block.get("fields") or []
        if "text" not in block and not fields:
            return "must provide text or fields", 0
        if "text" in block:
            texts.append((block["text"], LIMITS["section"]))
        if len(fields) > LIMITS["fields"]:
            return f"fields: no more than {LIMITS['fields']} items allowed", 0
        texts += [(field, LIMITS["field"]) for field in fields]
    elif kind == "context":
        elements = block.get("elements") or []
        if not elements or len(elements) > LIMITS["context"]:
            return f"elements: between 1 and {LIMITS['context']} items", 0
        texts += [(element, LIMITS["text_object"]) for element in elements if element.get("type") != "image"]
    elif kind == "header":
        texts.append((block.get("text"), LIMITS["header"]))
    elif kind == "actions":
        elements = block.get("elements") or []
        if not elements or len(elements) > LIMITS["actions"]:
            return f"elements: between 1 and {LIMITS['actions']} items", 0
        for element in elements:
            if not isinstance(element, dict):
                return "elements: must be objects", 0
            if "confirm" in element:
                problem = _check_confirm(element["confirm"])
                if problem:
                    return f"confirm: {problem}", 0
            if len(str(element.get("value") or "")) > LIMITS["button_value"]:
                return f"value must be less than {LIMITS['button_value'] + 1} characters", 0
            if len(str(element.get("action_id") or "")) > LIMITS["id"]:
                return f"action_id must be less than {LIMITS['id'] + 1} characters", 0
            texts.append((element.get("text"), LIMITS["button_text"]))
    elif kind != "divider":
        return f"unknown block type {kind!r}", 0
    length = 0
    for obj, limit in texts:
        problem, count = _text_of(obj, limit)
        if problem:
            return problem, 0
        length += count
    return None, length


def _check_confirm(confirm: Any) -> str | None:
    """A confirmation dialog object (docs.slack.dev/reference/block-kit/composition-objects/confirmation-dialog-object)."""
    if not isinstance(confirm, dict):
        return "must be an object"
    for key, limit in (("title", 100), ("text", 300), ("confirm", 30), ("deny", 30)):
        obj = confirm.get(key)
        if not isinstance(obj, dict) or obj.get("type") != "plain_text":
            return f"{key} must be a plain_text object"
        problem, _ = _text_of(obj, limit)
        if problem:
            return f"{key} {problem}"
    if confirm.get("style") not in (None, "primary", "danger"):
        return "style must be primary or danger"
    return None


def check_view(view: Any) -> str | None:
    """What is wrong with a modal view (Slack's documented limits), or None."""
    if not isinstance(view, dict) or view.get("type") != "modal":
        return "view.type must be modal"
    for key, required in (("title", True), ("submit", False), ("close", False)):
        obj = view.get(key)
        if obj is None and not required:
            continue
        if not isinstance(obj, dict) or obj.get("type") != "plain_text":
            return f"view.{key} must be a plain_text object"
        problem, _ = _text_of(obj, 24)
        if problem:
            return f"view.{key} {problem}"
    if len(str(view.get("private_metadata") or "")) > 3000:
        return "view.private_metadata must be less than 3001 characters"
    if len(str(view.get("callback_id") or "")) > 255:
        return "view.callback_id must be less than 256 characters"
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or not blocks or len(blocks) > 100:
        return "view.blocks must hold between 1 and 100 blocks"
    has_input = False
    for index, block in enumerate(blocks):
        if isinstance(block, dict) and block.get("type") == "input":
            has_input = True
            element = block.get("element")
            problem, _ = _text_of(block.get("label"), 2000)
            if problem:
                return f"view.blocks[{index}].label {problem}"
            if not isinstance(element, dict) or element.get("type") != "plain_text_input" or not element.get("action_id"):
                return f"view.blocks[{index}].element must be a plain_text_input with an action_id"
            max_length = element.get("max_length", 3000)
            if not isinstance(max_length, int) or not 1 <= max_length <= 3000:
                return f"view.blocks[{index}].element.max_length must be 1 to 3000"
            if len(str(element.get("initial_value") or "")) > max_length:
                return f"view.blocks[{index}].element.initial_value is longer than max_length"
            continue
        problem, _ = _check_block(block)
        if problem:
            return f"view.blocks[{index}] {problem}"
    if view.get("submit") is None and has_input:
        return "view.submit is required when the view has input blocks"
    return None


def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    content_type = request.header("content-type", "") or ""
    if request.body and "json" in content_type:
        body = request.json()
        if isinstance(body, dict):
            params.update(body)
    elif request.body:
        params.update(request.form())
    return params


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _as_message(posted: Posted, with_metadata: bool) -> dict[str, Any]:
    message = {"type": "message", "ts": posted.ts, "text": posted.text, "blocks": posted.blocks, "bot_id": "B0BOT"}
    if with_metadata and posted.metadata:
        message["metadata"] = posted.metadata
    return message
