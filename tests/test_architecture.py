"""Imports flow one way: cli -> steps -> core -> (config, errors); `tcli --help` needs no torch."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "translate_cli"
FORBIDDEN_IN_CORE = ("translate_cli.steps", "translate_cli.cli", "translate_cli.console", "typer", "rich", "yaml")


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_core_does_not_import_cli_steps_or_ui_libraries():
    for path in (PACKAGE / "core").glob("*.py"):
        for module in imported_modules(path):
            assert not module.startswith(FORBIDDEN_IN_CORE), f"{path.name} imports {module}"


def test_steps_do_not_import_the_cli():
    for path in (PACKAGE / "steps").glob("*.py"):
        assert not any(m.startswith(("translate_cli.cli", "typer")) for m in imported_modules(path)), path.name


def test_help_does_not_import_torch():
    code = "import sys, translate_cli.cli; assert 'torch' not in sys.modules, 'torch imported at CLI start-up'"
    subprocess.run([sys.executable, "-c", code], check=True)
