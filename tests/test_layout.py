"""The package shows its architecture: the product never depends on the demo or its fakes."""

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
