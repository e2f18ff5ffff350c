"""The package shows its architecture: its packages are layers, each importing only those below it,
and the product never depends on the demo or its fakes."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("monitor", "connectors", "classifiers")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_product_module_imports_the_demo_or_its_fakes():
    offenders = []
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if relative.parts[:2] == ("monitor", "demo"):
                continue
            demo = {name for name in imported_modules(path) if name == "monitor.demo" or name.startswith("monitor.demo.")}
            if relative == Path("monitor/cli.py"):
                # `monitor demo` is the one door into the demo
                demo -= {"monitor.demo.run", "monitor.demo.run.run_demo", "monitor.demo.view",
                         "monitor.demo.view.RichView"}
            if demo:
                offenders.append(f"{relative}: {sorted(demo)}")
    assert offenders == []


def test_the_checker_sees_an_upward_import(tmp_path: Path):
    sample = tmp_path / "sample.py"
    sample.write_text("from monitor.demo.fakes.slack import FakeSlack\nimport monitor.demo\n")
    assert {"monitor.demo.fakes.slack", "monitor.demo"} <= imported_modules(sample)


#: the layers of the product, lowest first, and the layers each may import besides itself:
#: - core: monitor/'s own modules (config, store, pipeline, clock, errors...), connectors/, classifiers/
#: - notify: what is alerted, routed, queued and sent; sla: cases and their deadlines; digest: the weekly email
#: - actions: what moderators do (platform writes, Slack's buttons), on cases and alerts
#: - app: what runs the engine on a server (assembly, daemon, status, checks, maintenance, systemd)
#: - cli: the command line, the only door into the demo; demo: the demo and its fake platforms
MAY_IMPORT = {
    "core": set(),
    "notify": {"core"},
    "sla": {"core", "notify"},
    "digest": {"core", "notify"},
    "actions": {"core", "notify", "sla"},
    "app": {"core", "notify", "sla", "digest", "actions"},
    "cli": {"core", "notify", "sla", "digest", "actions", "app", "demo"},
    "demo": {"core", "notify", "sla", "digest", "actions", "app"},
}
#: the configuration checks a value against the rules that define it (imported inside its validators)
ALLOWED = {
    ("monitor/config.py", "monitor.sla.calendar"),
    ("monitor/config.py", "monitor.notify.routing"),
}


def layer_of(parts: tuple[str, ...], root: Path) -> str | None:
    """The layer of a module, from its dotted name's or its path's parts; None outside the product."""
    if not parts or parts[0] not in PRODUCT:
        return None
    if parts[0] != "monitor" or len(parts) == 1:
        return "core"
    if parts[1] in ("cli", "cli.py"):
        return "cli"
    if (root / "monitor" / parts[1]).is_dir():
        return parts[1]
    return "core"


def layer_violations(root: Path) -> list[str]:
    violations = []
    for package in PRODUCT:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            layer = layer_of(relative.parts, root)
            if layer not in MAY_IMPORT:
                violations.append(f"{relative}: the package {layer!r} has no place in the layers (MAY_IMPORT)")
                continue
            against = {}
            for name in imported_modules(path):
                target = layer_of(tuple(name.split(".")), root)
                if target is None or target == layer or target in MAY_IMPORT[layer]:
                    continue
                if {(relative.as_posix(), name), (relative.as_posix(), name.rpartition(".")[0])} & ALLOWED:
                    continue
                against[name] = target
            # `from monitor.sla.cases import Case` is one import, of monitor.sla.cases
            violations.extend(f"{relative} ({layer}) imports {name} ({target})" for name, target in sorted(against.items())
                              if name.rpartition(".")[0] not in against)
    return violations


def test_each_layer_imports_only_the_layers_below_it():
    assert layer_violations(ROOT) == []


def test_the_layers_refuse_an_import_against_them(tmp_path: Path):
    for package in ("notify", "sla", "app", "demo"):
        (tmp_path / "monitor" / package).mkdir(parents=True)
    for package in ("connectors", "classifiers"):
        (tmp_path / package).mkdir()
    (tmp_path / "monitor" / "store.py").write_text("import json\nfrom monitor.errors import StoreError\n")
    (tmp_path / "monitor" / "notify" / "outbox.py").write_text("def deliver():\n    from monitor.sla.cases import Case\n")
    (tmp_path / "monitor" / "sla" / "clock.py").write_text("from monitor.notify.outbox import enqueue\n")
    (tmp_path / "monitor" / "config.py").write_text("from monitor.sla.calendar import check_region\n"
                                                    "from monitor.app.daemon import run\n")
    (tmp_path / "connectors" / "rss.py").write_text("import monitor.cli\n")
    (tmp_path / "monitor" / "app" / "daemon.py").write_text("from monitor.demo.fakes.slack import FakeSlack\n")
    (tmp_path / "monitor" / "pager").mkdir()
    (tmp_path / "monitor" / "pager" / "call.py").write_text("")
    assert layer_violations(tmp_path) == [
        "monitor/app/daemon.py (app) imports monitor.demo.fakes.slack (demo)",
        "monitor/config.py (core) imports monitor.app.daemon (app)",
        "monitor/notify/outbox.py (notify) imports monitor.sla.cases (sla)",
        "monitor/pager/call.py: the package 'pager' has no place in the layers (MAY_IMPORT)",
        "connectors/rss.py (core) imports monitor.cli (cli)",
    ]
