"""The shape of the package (../shared/STYLE.md): imports flow one way (cli -> steps -> config -> core ->
errors), steps/ holds exactly one module per subcommand, and `tcli --help` needs no torch."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "translate_cli"
FORBIDDEN_IN_CORE = ("translate_cli.steps", "translate_cli.cli", "translate_cli.console", "translate_cli.config",
                     "typer", "rich", "yaml")


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def subcommands() -> dict[str, str]:
    """Each `tcli` subcommand's name -> the steps module its function imports."""
    found = {}
    for node in ast.parse((PACKAGE / "cli.py").read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "command" for d in node.decorator_list):
            steps = [alias.name for n in ast.walk(node) if isinstance(n, ast.ImportFrom)
                     and n.module == "translate_cli.steps" for alias in n.names]
            assert len(steps) == 1, f"cli.{node.name} must call exactly one step module, calls {steps}"
            found[node.name] = steps[0]
    return found


def test_core_does_not_import_config_cli_steps_or_ui_libraries():
    for path in (PACKAGE / "core").glob("*.py"):
        for module in imported_modules(path):
            assert not module.startswith(FORBIDDEN_IN_CORE), f"core/{path.name} imports {module}"


def test_steps_do_not_import_the_cli():
    for path in (PACKAGE / "steps").glob("*.py"):
        assert not any(m.startswith(("translate_cli.cli", "typer")) for m in imported_modules(path)), path.name


def test_steps_holds_exactly_one_module_per_subcommand():
    modules = {p.stem for p in (PACKAGE / "steps").glob("*.py") if p.stem != "__init__"}
    commands = subcommands()
    assert sorted(commands.values()) == sorted(set(commands.values())), "two subcommands share a step module"
    assert modules == set(commands.values()), f"steps/ modules that are no subcommand: {modules - set(commands.values())}"


def test_steps_import_no_other_step_and_only_steps_and_cli_print():
    for path in (PACKAGE / "steps").glob("*.py"):
        others = [m for m in imported_modules(path) if m.startswith("translate_cli.steps")]
        assert not others, f"steps/{path.name} imports {others}: shared logic belongs in core/"
    for path in (PACKAGE / "core").glob("*.py"):
        calls = [node.func.id for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                 if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]
        assert "print" not in calls, f"core/{path.name} prints; only cli.py and steps/ do"


def test_help_does_not_import_torch():
    code = "import sys, translate_cli.cli; assert 'torch' not in sys.modules, 'torch imported at CLI start-up'"
    subprocess.run([sys.executable, "-c", code], check=True)


# What `tcli translate EXPORT --backend ctranslate2` imports: none of it may import torch at module level.
TORCH_FREE = ("cli", "steps/translate", "core/translator", "core/ct2_backend", "core/checkpoint", "core/decoding",
              "core/model_config", "core/data", "core/tokenizer", "core/text", "core/textio", "errors", "console")


def test_the_ctranslate2_path_imports_no_torch_at_module_level():
    for name in TORCH_FREE:
        path = PACKAGE / f"{name}.py"
        top_level = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # not inside functions or TYPE_CHECKING
            if isinstance(node, ast.Import):
                top_level.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                top_level.add(node.module)
        heavy = [m for m in top_level if m.split(".")[0] in ("torch", "safetensors")
                 or m in ("translate_cli.core.model", "translate_cli.core.search", "translate_cli.core.export_ct2")]
        assert not heavy, f"{name}.py imports {heavy} at module level; import it inside the function that needs it"
