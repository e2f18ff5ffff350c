"""Security, attacked: dangerous calls, SQL built from text, hostile text, file modes, leaked secrets.

The secrets test configures distinctive secrets through ``env:`` references, runs polls that succeed
and fail, delivers the alerts to a fake Slack and a real SMTP server, builds the digest, and then
scans every place a secret could leak to: the log lines (in process and from the ``monitor``
command), the SQLite file with its WAL, the outbox rows, what Slack and SMTP received, the digest.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import stat
import subprocess
import sys
import threading
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from classifiers.base import Verdict
from connectors.base import Item
from monitor.app.checks import check_permissions
from monitor.clock import ManualClock
from monitor.config import load_config
from monitor.demo.fakes.facebook import FakeFacebook
from monitor.demo.fakes.slack import CHANNEL, FakeSlack
from monitor.demo.fakes.youtube import FakeYouTube
from monitor.pipeline import Pipeline
from monitor.store import Store
from tests.smtp_server import Recorder, start_smtp

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "<!channel> <b>x</b> <script>alert(1)</script> &amp;"


def project_files() -> list[Path]:
    skip = {".venv", ".git", "node_modules", "build", "dist", "__pycache__"}
    return sorted(p for p in ROOT.rglob("*.py") if not skip & set(p.relative_to(ROOT).parts))


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


# -- dangerous calls ------------------------------------------------------------------------------

DANGEROUS_CALLS = {
    "eval": "eval runs text as code",
    "exec": "exec runs text as code",
    "os.system": "a shell command",
    "os.popen": "a shell command",
    "pickle.load": "unpickling runs code", "pickle.loads": "unpickling runs code",
    "cPickle.load": "unpickling runs code", "cPickle.loads": "unpickling runs code",
    "dill.load": "unpickling runs code", "dill.loads": "unpickling runs code",
    "marshal.load": "unmarshalling external data", "marshal.loads": "unmarshalling external data",
    "shelve.open": "shelve unpickles",
    "torch.load": "torch.load unpickles (use safetensors, or weights_only=True)",
}


#: Calls reviewed by hand, with why they are not fed external data. A new one fails the test.
REVIEWED_CALLS = {
    ("classifiers/train.py", "torch.load"): "the training script reloading its own checkpoint on the "
    "trainer's machine (--from-checkpoint); weights_only=True would make it safe outright",
}


def dangerous_calls(tree: ast.Module) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        keywords = {k.arg: k.value for k in node.keywords}
        if name in DANGEROUS_CALLS:
            if name == "torch.load" and _is_true(keywords.get("weights_only")):
                continue
            found.append((node.lineno, f"{name}: {DANGEROUS_CALLS[name]}"))
        if "shell" in keywords and not (isinstance(keywords["shell"], ast.Constant) and keywords["shell"].value is False):
            found.append((node.lineno, f"{name}(shell=...): a shell parses the command"))
        if name.endswith("yaml.load") or name == "load" and _imported_from(tree, "yaml", "load"):
            loader = keywords.get("Loader") or (node.args[1] if len(node.args) > 1 else None)
            if loader is None or "Safe" not in ast.unparse(loader):
                found.append((node.lineno, "yaml.load without SafeLoader builds arbitrary objects"))
        if name.endswith("yaml.unsafe_load") or name.endswith("yaml.full_load"):
            found.append((node.lineno, f"{name} builds arbitrary objects"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names]
            module = getattr(node, "module", None) or ""
            if module in ("pickle", "marshal") and {"load", "loads"} & set(names):
                found.append((node.lineno, f"from {module} import load(s)"))
    return found


def _is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _imported_from(tree: ast.Module, module: str, name: str) -> bool:
    return any(
        isinstance(n, ast.ImportFrom) and n.module == module and name in [a.name for a in n.names]
        for n in ast.walk(tree)
    )


def test_the_scanner_catches_what_it_looks_for():
    bad = ast.parse(
        "import pickle, subprocess, yaml\n"
        "eval(x)\nexec(y)\npickle.loads(b)\nsubprocess.run(cmd, shell=True)\n"
        "yaml.load(text)\nyaml.load(text, Loader=yaml.SafeLoader)\nos.system('ls')\n"
    )
    lines = sorted(line for line, _ in dangerous_calls(bad))
    assert lines == [2, 3, 4, 5, 6, 8]


def test_no_shell_eval_exec_or_unpickling_in_the_project():
    files = project_files()
    assert len(files) > 40 and ROOT / "monitor" / "store.py" in files
    found = [
        f"{path.relative_to(ROOT)}:{line}: {why}"
        for path in files for line, why in dangerous_calls(parsed(path))
        if (path.relative_to(ROOT).as_posix(), why.split(":")[0]) not in REVIEWED_CALLS
    ]
    assert found == []


# -- SQL built from text --------------------------------------------------------------------------

#: SQL as this project writes it (keywords in capitals)
SQL_WORDS = re.compile(
    r"\bSELECT\b|\bINSERT\s+(OR\s+[A-Z]+\s+)?INTO\b|\bUPDATE\b.*\bSET\b|\bDELETE\s+FROM\b|\bREPLACE\s+INTO\b"
    r"|\bWHERE\b|\bALTER\s+TABLE\b|\bCREATE\s+(TABLE|INDEX)\b",
    re.DOTALL,
)

#: Interpolations reviewed by hand: each names SQL that comes from the module's own constants.
REVIEWED = {
    ("monitor/sla/clock.py", "notice.column"): "a column name from the module's Notice constants",
    ("monitor/sla/clock.py", "notice.condition"): "a condition from the module's Notice constants",
}


class Constness:
    """Decides whether an expression interpolated into SQL can only hold the program's own text.

    Safe: literals, ``"?" * n`` and ``",".join("?" * n)`` (the placeholders-list idiom), ``len()``,
    ``range()``, ``repr``/``str`` of safe values, f-strings and concatenations of safe parts, and
    names whose every assignment in the module is safe (including loop variables over safe
    iterables). Anything else could carry external text.
    """

    def __init__(self, tree: ast.Module):
        self.bindings: dict[str, list[ast.AST]] = {}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in self._names(target):
                        self.bindings.setdefault(name, []).append(node.value)
            elif isinstance(node, (ast.For, ast.comprehension)):
                for name in self._names(node.target):
                    self.bindings.setdefault(name, []).append(ast.Subscript(value=node.iter, slice=ast.Constant(0)))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for arg in node.args.args + node.args.kwonlyargs + node.args.posonlyargs:
                    self.bindings.setdefault(arg.arg, []).append(ast.Name(id="<argument>"))

    @staticmethod
    def _names(target: ast.AST) -> list[str]:
        return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]

    def safe(self, node: ast.AST, seen: frozenset[str] = frozenset()) -> bool:
        if isinstance(node, ast.Constant):
            return isinstance(node.value, (str, int, float, type(None)))
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return all(self.safe(e, seen) for e in node.elts)
        if isinstance(node, ast.Subscript):
            return self.safe(node.value, seen)
        if isinstance(node, ast.JoinedStr):
            return all(self.safe(v.value, seen) for v in node.values if isinstance(v, ast.FormattedValue))
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Mult) and any(isinstance(s, ast.Constant) and isinstance(s.value, str) for s in (node.left, node.right)):
                return True  # "?" * n
            return self.safe(node.left, seen) and self.safe(node.right, seen)
        if isinstance(node, ast.BoolOp):
            return all(self.safe(v, seen) for v in node.values)
        if isinstance(node, ast.GeneratorExp | ast.ListComp):
            # the comprehension's own variables hold elements of its (checked) iterables
            local = frozenset(n for g in node.generators for n in self._names(g.target))
            return all(self.safe(g.iter, seen) for g in node.generators) and self.safe(node.elt, seen | local)
        if isinstance(node, ast.Call):
            func = ast.unparse(node.func)
            if func in ("len", "range", "int"):
                return True
            if func in ("repr", "str"):
                return all(self.safe(a, seen) for a in node.args)
            if isinstance(node.func, ast.Attribute) and node.func.attr == "join":
                return self.safe(node.func.value, seen) and all(self.safe(a, seen) for a in node.args)
            return False
        if isinstance(node, ast.Name):
            if node.id in seen:
                return True
            values = self.bindings.get(node.id)
            return bool(values) and all(self.safe(v, seen | {node.id}) for v in values)
        return False


def sql_interpolations(path: Path) -> list[tuple[int, str]]:
    """f-strings that look like SQL and interpolate something that may not be the program's own text."""
    tree = parsed(path)
    constness = Constness(tree)
    relative = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.JoinedStr):
            continue
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        if not SQL_WORDS.search(text):
            continue
        for value in node.values:
            if not isinstance(value, ast.FormattedValue):
                continue
            source = ast.unparse(value.value)
            if (relative, source) in REVIEWED or constness.safe(value.value):
                continue
            found.append((node.lineno, source))
    return found


def test_the_sql_check_tells_placeholders_from_text(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        'COLUMNS = "id, text"\n'
        "def ok(db, ids):\n"
        '    marks = ",".join("?" * len(ids))\n'
        '    db.execute(f"SELECT {COLUMNS} FROM items WHERE id IN ({marks})", ids)\n'
        "def bad(db, name):\n"
        '    db.execute(f"SELECT * FROM items WHERE author_name = \'{name}\'")\n'
        "def bad_too(db, row):\n"
        '    table = row["table"]\n'
        '    db.execute(f"DELETE FROM {table} WHERE id = ?", (1,))\n',
        encoding="utf-8",
    )
    assert [line for line, _ in sql_interpolations(sample)] == [6, 9]


def test_no_sql_is_built_from_text():
    found = [
        f"{path.relative_to(ROOT)}:{line}: {{{source}}}"
        for path in project_files() if "tests" not in path.relative_to(ROOT).parts
        for line, source in sql_interpolations(path)
    ]
    assert found == []


# -- hostile text in every field ------------------------------------------------------------------

METACHARACTERS = [
    "'; DROP TABLE items; --",
    "\" OR \"1\"=\"1",
    "Robert'); DELETE FROM cases WHERE ('1'='1",
    "%s %d ? ?1 :name @x $1 \\' \\\"",
    "a\x00b NUL inside",
    "\u202e\u200b\ufeff right-to-left and zero-width",
    "line1\r\nline2\ttab -- comment /* block */",
    HOSTILE,
]


@pytest.mark.parametrize("text", METACHARACTERS)
def test_sql_metacharacters_in_every_text_field_are_stored_intact(store, text):
    item = Item(
        source="news", native_id=f"id {text}", kind="comment", text=text,
        created_at=datetime(2026, 11, 16, 9, tzinfo=timezone.utc), url=f"https://example.org/?q={text}",
        author_id=text, author_name=text, author_handle=text, parent_id=text, thread_id=text,
        raw={"title": text},
    )
    [stored] = store.upsert_items([item])
    store.save_verdict(stored.id, Verdict(score=0.9, flagged=True, labels={text: 0.9}, reasons=(text,),
                                          model=text, model_version=text))
    [row] = store.query("SELECT * FROM items WHERE source = ? AND native_id = ?", ("news", f"id {text}"))
    for column in ("text", "author_id", "author_name", "author_handle", "parent_id", "thread_id"):
        assert row[column] == text, column
    assert row["url"] == item.url and json.loads(row["raw"]) == {"title": text}
    [verdict] = store.query("SELECT * FROM verdicts WHERE item_id = ?", (stored.id,))
    assert json.loads(verdict["labels"]) == {text: 0.9} and json.loads(verdict["reasons"]) == [text]
    assert store.existing_ids("news", [f"id {text}"]) == {f"id {text}"}
    assert {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")} >= {"items", "cases"}
    assert store.count_items() == 1


# -- file modes -----------------------------------------------------------------------------------


def test_a_new_database_is_private_to_its_user(tmp_path, clock):
    previous = os.umask(0o022)  # the usual umask, which would make a new file readable by all
    try:
        store = Store(tmp_path / "var" / "monitor.db", clock=clock)
        store.upsert_items([Item(source="s", native_id="1", kind="post", text="t", created_at=clock())])
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "var").iterdir()}
        store.close()
    finally:
        os.umask(previous)
    assert modes["monitor.db"] == 0o600
    assert all(mode == 0o600 for name, mode in modes.items() if name.startswith("monitor.db")), modes
    assert "monitor.db-wal" in modes


def write_config(tmp_path: Path, text: str, mode: int) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(f'[storage]\npath = "{tmp_path / "monitor.db"}"\n{text}', encoding="utf-8")
    path.chmod(mode)
    return path


def test_open_files_draw_a_warning_and_private_ones_none(tmp_path, clock):
    config_path = write_config(tmp_path, "", 0o600)
    Store(tmp_path / "monitor.db", clock=clock).close()
    assert check_permissions(load_config(config_path)) == []

    config_path.chmod(0o644)
    (tmp_path / "monitor.db").chmod(0o640)
    warnings = check_permissions(load_config(config_path))
    assert len(warnings) == 2
    assert f"configuration file {config_path} has mode 644" in warnings[0]
    assert f"chmod 640 {config_path} (its group" in warnings[0], "its group is this process's: it may read"
    assert "database file" in warnings[1] and "mode 640" in warnings[1]


def monitor_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "monitor.cli", *args]


def test_check_config_and_the_daemon_warn_about_open_files(tmp_path):
    config_path = write_config(tmp_path, "", 0o644)
    checked = subprocess.run(monitor_command("--config", str(config_path), "check-config"),
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    assert f"warning: configuration file {config_path} has mode 644" in checked.stderr

    daemon = subprocess.Popen(monitor_command("--config", str(config_path), "run"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(60, daemon.kill)  # never hang the suite on a daemon that says nothing
    watchdog.start()
    try:
        lines = []
        for line in daemon.stderr:  # the warning is written before the scheduler starts
            lines.append(line)
            if "monitor started" in line or len(lines) > 50:
                break
    finally:
        daemon.terminate()
        rest = daemon.communicate(timeout=30)[1]
        watchdog.cancel()
    logged = "".join(lines) + rest
    assert re.search(rf"WARNING monitor.app.checks: configuration file {re.escape(str(config_path))} has mode 644", logged), logged
    assert "database file" not in logged  # the daemon created it private


# -- secrets --------------------------------------------------------------------------------------

SECRETS = {
    "TEST_FB_TOKEN": "fbtok-Zq7Secret-1111",
    "TEST_FB_WRONG": "fbtok-Zq7Wrong-2222",
    "TEST_YT_KEY": "ytkey-Zq7Secret-3333",
    "TEST_SLACK_TOKEN": "xoxb-Zq7Secret-4444",
    "TEST_SMTP_PASSWORD": "smtp-Zq7Secret-5555",
}
SMTP_USER = "monitor-mailer"


def smtp_authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == SECRETS["TEST_SMTP_PASSWORD"].encode()
    return AuthResult(success=ok, handled=False)


def secrets_config(tmp_path: Path, facebook: FakeFacebook, youtube: FakeYouTube, slack: FakeSlack, smtp_port: int) -> Path:
    return write_config(tmp_path, f"""
[school]
name = "Ravens Wood School"
[[sources]]
name = "facebook-page"
type = "facebook"
official = true
base_url = "{facebook.source_config('x')['base_url']}"
page_id = "{facebook.page_id}"
token = "env:TEST_FB_TOKEN"
timeout = "3s"
[[sources]]
name = "facebook-old"
type = "facebook"
official = true
base_url = "{facebook.source_config('x')['base_url']}"
page_id = "{facebook.page_id}"
token = "env:TEST_FB_WRONG"
timeout = "3s"
[[sources]]
name = "youtube"
type = "youtube"
official = true
base_url = "{youtube.source_config('x')['base_url']}"
channel_id = "{youtube.source_config('x')['channel_id']}"
api_key = "env:TEST_YT_KEY"
timeout = "3s"
[[sources]]
name = "youtube-down"
type = "youtube"
base_url = "http://127.0.0.1:9/youtube/v3"
channel_id = "{youtube.source_config('x')['channel_id']}"
api_key = "env:TEST_YT_KEY"
timeout = "1s"
[notify.slack]
token = "env:TEST_SLACK_TOKEN"
channel = "{CHANNEL}"
base_url = "{slack.base_url}"
timeout = "3s"
[notify.email]
host = "127.0.0.1"
port = {smtp_port}
starttls = false
username = "{SMTP_USER}"
password = "env:TEST_SMTP_PASSWORD"
sender = "monitor@school.example"
moderators = ["moderator@school.example"]
timeout = "3s"
[digest]
recipients = ["head@school.example"]
""", 0o600)


def last_school_morning() -> datetime:
    """10:30 in London on the last weekday before today: every alert kind goes out at once."""
    day = datetime.now(ZoneInfo("Europe/London")).date() - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return datetime.combine(day, time(10, 30), ZoneInfo("Europe/London")).astimezone(timezone.utc)


def test_secrets_never_reach_logs_database_outbox_alerts_or_digest(tmp_path, monkeypatch, caplog):
    from monitor.notify.alerting import AlertsHook
    from monitor.sla.cases import CasesHook
    from monitor.digest.send import publish
    from monitor.digest.week import week_of
    from monitor.notify.outbox import Dispatcher, build_notifiers

    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    for noisy in ("httpx", "httpcore"):  # as the command line sets them: URLs with keys stay out
        caplog.set_level(logging.WARNING, logger=noisy)
    # a school morning: at night a routine email rightly waits for the end of quiet hours
    clock = ManualClock(last_school_morning())
    recorder = Recorder()
    smtp = start_smtp(recorder, authenticator=smtp_authenticator, auth_require_tls=False)
    with FakeFacebook() as facebook, FakeYouTube() as youtube, FakeSlack() as slack:
        facebook.token = SECRETS["TEST_FB_TOKEN"]
        youtube.api_key = SECRETS["TEST_YT_KEY"]
        slack.tokens = {SECRETS["TEST_SLACK_TOKEN"]}
        config = load_config(secrets_config(tmp_path, facebook, youtube, slack, smtp.port))
        post = facebook.add_post("Sports day on Friday", at=clock() - timedelta(hours=3))
        facebook.add_comment(HOSTILE, reply_to=post, at=clock() - timedelta(hours=2))
        youtube.add_comment(f"Great video {HOSTILE}", at=clock() - timedelta(hours=2))
        store = Store(config.database_path, clock=clock)
        pipeline = Pipeline(config=config, store=store, clock=clock,
                            hooks=[CasesHook(config), AlertsHook(config, clock)])
        results = {name: pipeline.poll(name) for name in ("facebook-page", "facebook-old", "youtube", "youtube-down")}
        assert results["facebook-page"].new >= 2 and results["youtube"].new >= 1
        assert results["facebook-old"].error_kind == "auth" and results["youtube-down"].error_kind == "transient"
        facebook.expire_credentials()
        assert pipeline.poll("facebook-page").error_kind == "auth"

        this_week = week_of(clock().astimezone(config.school.tz).date())  # the week with the comments
        digest = publish(store, config, this_week, now=clock(), out=tmp_path / "digest.html", send=True)
        report = Dispatcher(store, build_notifiers(config, clock), clock=clock).run()
        assert report.sent >= 4 and report.failed == 0, report
        outbox = store.query("SELECT * FROM alerts")
        db_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("monitor.db*"))
        store.close()
        slack_seen = json.dumps([m.__dict__ for m in slack.messages], default=str)
        request_bodies = [r for r in slack.requests if r.path.endswith("chat.postMessage")]
    smtp.stop()
    mail = b"\n".join(m.as_bytes() for m in recorder.messages)
    html_digest = (tmp_path / "digest.html").read_text(encoding="utf-8") + digest.archive.read_text(encoding="utf-8")

    # the alerts did go out, and carried what they should
    assert {row["state"] for row in outbox} <= {"sent", "batched"}  # routine news rode in a sent message
    kinds = {row["kind"] for row in outbox}
    assert {"source_auth", "digest"} <= kinds, kinds
    assert len(recorder.messages) >= 3 and request_bodies
    places = {
        "log": caplog.text, "database": db_bytes, "outbox": json.dumps(outbox), "slack": slack_seen,
        "email": mail, "digest": html_digest,
    }
    for secret in SECRETS.values():
        for place, content in places.items():
            needle = secret.encode() if isinstance(content, bytes) else secret
            assert needle not in content, f"{secret} leaked into {place}"
    assert "fbtok-Zq7" not in caplog.text and "Zq7Secret" not in caplog.text

    # hostile text arrived literal: escaped for Slack mrkdwn, escaped in the HTML email
    slack_text = "\n".join(b["text"]["text"] for m in slack.messages for b in m.blocks
                           if b["type"] == "section" and "text" in b)
    assert "&lt;!channel&gt; &lt;b&gt;x&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt; &amp;amp;" in slack_text
    assert "<!channel>" not in slack_seen and "<script>" not in slack_seen
    html_parts = [part.get_content() for m in recorder.messages for part in m.walk()
                  if part.get_content_type() == "text/html"]
    hostile_html = [h for h in html_parts if "alert(1)" in h]
    assert hostile_html, "the hostile comment should be in an email alert"
    for body in hostile_html:
        assert "<script>" not in body and "<b>x</b>" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "&amp;amp;" in body
    # and in the principal's digest (the comments of the week are listed there)
    assert "alert(1)" in html_digest and "<script>alert(1)" not in html_digest and "<b>x</b>" not in html_digest
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_digest


def test_secrets_never_reach_the_command_line_logs(tmp_path, monkeypatch):
    env = {**os.environ, **SECRETS}
    with FakeFacebook() as facebook, FakeYouTube() as youtube, FakeSlack() as slack:
        facebook.token = SECRETS["TEST_FB_TOKEN"]
        youtube.api_key = SECRETS["TEST_YT_KEY"]
        facebook.add_comment("Hello", at=datetime.now(timezone.utc) - timedelta(hours=1))
        config_path = secrets_config(tmp_path, facebook, youtube, slack, 9)
        runs = [subprocess.run(monitor_command("--config", str(config_path), *args), capture_output=True,
                               text=True, timeout=120, env=env)
                for args in (("--debug", "poll"), ("-vv", "poll"), ("check-config",), ("status", "--json"))]
    assert runs[0].returncode == 1 and "facebook-old: FAILED (auth)" in runs[0].stdout
    assert "youtube-down failed" in runs[0].stderr and "facebook-old" in runs[1].stderr
    for run in runs:
        for secret in SECRETS.values():
            assert secret not in run.stdout and secret not in run.stderr
