"""The shape of the package (../shared/STYLE.md): two front ends (cli.py, server/) over one library (core/): a
kernel and one folder (wing) per feature. Imports flow one way, a wing uses the kernel and no other wing unless
its docstring says why, names are imported from where they are defined, steps/ holds one module per
subcommand, README's Layout names every kernel module and wing, the command line's defaults and bounds are
the library's, and `tcli --help` and the CTranslate2 path need no torch."""

import ast
import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import typer

PACKAGE = Path(__file__).resolve().parent.parent / "translate_cli"
CORE = PACKAGE / "core"
README = PACKAGE.parent / "README.md"
UI_LIBRARIES = ("typer", "rich", "yaml", "fastapi", "starlette", "uvicorn")
FRONT = ("translate_cli.steps", "translate_cli.cli", "translate_cli.console", "translate_cli.config",
         "translate_cli.server")
MAX_MODULES = 16  # per folder ("about 15")


def imported_modules(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in a file, inside functions too; relative imports are not used."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def kernel_modules() -> list[Path]:
    return sorted(p for p in CORE.glob("*.py") if p.stem != "__init__")


def wings() -> list[Path]:
    return sorted(p for p in CORE.iterdir() if (p / "__init__.py").is_file())


def wing_of(module: str) -> str | None:
    """The wing a translate_cli.core.* module belongs to (None for the kernel and outside core)."""
    parts = module.split(".")
    if len(parts) >= 3 and parts[:2] == ["translate_cli", "core"] and (CORE / parts[2]).is_dir():
        return parts[2]
    return None


def test_the_library_imports_no_front_end_and_no_ui_or_http_library():
    for path in CORE.rglob("*.py"):
        for module, _ in imported_modules(path):
            assert not module.startswith(FRONT), f"{path.relative_to(PACKAGE)} imports {module}"
            assert module.split(".")[0] not in UI_LIBRARIES, f"{path.relative_to(PACKAGE)} imports {module}"


def test_the_kernel_imports_no_wing():
    for path in kernel_modules():
        wings_used = {wing_of(module) for module, _ in imported_modules(path)} - {None}
        assert not wings_used, f"core/{path.name} (kernel) imports the wing(s) {wings_used}"


def test_a_wing_imports_another_wing_only_where_its_docstring_says_why():
    for wing in wings():
        allowed = set(re.findall(r"Uses the (\w+) wing:", ast.get_docstring(ast.parse(
            (wing / "__init__.py").read_text(encoding="utf-8"))) or ""))
        for path in wing.glob("*.py"):
            others = {wing_of(module) for module, _ in imported_modules(path)} - {None, wing.name}
            assert others <= allowed, (f"core/{wing.name}/{path.name} imports the wing(s) {others - allowed}; "
                                       f"say why in core/{wing.name}/__init__.py (\"Uses the X wing: ...\")")


def test_every_wing_and_front_end_folder_has_a_docstring_and_no_folder_is_crowded():
    for folder in [CORE, *wings(), PACKAGE / "server", PACKAGE / "steps", PACKAGE]:
        modules = [p for p in folder.glob("*.py") if p.stem != "__init__"]
        assert len(modules) <= MAX_MODULES, f"{folder.relative_to(PACKAGE.parent)} holds {len(modules)} modules"
    for folder in [CORE, *wings(), PACKAGE / "server"]:
        assert ast.get_docstring(ast.parse((folder / "__init__.py").read_text(encoding="utf-8"))), folder


def test_the_server_front_end_uses_the_library_not_the_cli_or_the_steps():
    for path in (PACKAGE / "server").glob("*.py"):
        for module, _ in imported_modules(path):
            assert not module.startswith(("translate_cli.steps", "translate_cli.cli", "translate_cli.config",
                                          "typer", "rich")), f"server/{path.name} imports {module}"


def defined_names(module: str) -> set[str] | None:
    """Top-level names a package module defines itself (None for a folder: its submodules are names)."""
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    if not path.is_file():
        return None
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for target in targets for t in ast.walk(target) if isinstance(t, ast.Name))
    return names


def test_names_are_imported_from_the_module_that_defines_them():
    paths = [*PACKAGE.rglob("*.py"), *(PACKAGE.parent / "tests").glob("*.py"), *(PACKAGE.parent / "scripts").glob("*.py")]
    for path in paths:
        for module, names in imported_modules(path):
            if not module.startswith("translate_cli"):
                continue
            defined = defined_names(module)
            for name in names if defined is not None else []:
                submodule = PACKAGE.parent / module.replace(".", "/") / f"{name}.py"
                assert name in defined or submodule.is_file(), \
                    f"{path.name} imports {name} from {module}, which does not define it"


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


def test_steps_do_not_import_the_cli():
    for path in (PACKAGE / "steps").glob("*.py"):
        assert not any(m.startswith(("translate_cli.cli", "typer")) for m, _ in imported_modules(path)), path.name


def test_steps_holds_exactly_one_module_per_subcommand():
    modules = {p.stem for p in (PACKAGE / "steps").glob("*.py") if p.stem != "__init__"}
    commands = subcommands()
    assert sorted(commands.values()) == sorted(set(commands.values())), "two subcommands share a step module"
    assert modules == set(commands.values()), f"steps/ modules that are no subcommand: {modules - set(commands.values())}"


def test_steps_import_no_other_step_and_only_the_front_ends_print():
    for path in (PACKAGE / "steps").glob("*.py"):
        others = [m for m, _ in imported_modules(path) if m.startswith("translate_cli.steps")]
        assert not others, f"steps/{path.name} imports {others}: shared logic belongs in core/"
    for path in [*CORE.rglob("*.py"), *(PACKAGE / "server").glob("*.py")]:
        calls = [node.func.id for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                 if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]
        assert "print" not in calls, f"{path.relative_to(PACKAGE)} prints; only cli.py and steps/ do"


def test_readme_layout_names_every_kernel_module_wing_and_front_end():
    text = README.read_text(encoding="utf-8")
    layout = text[text.index("## Layout"):]
    layout = layout[:layout.index("\n## ", 1)] if "\n## " in layout[1:] else layout
    expected = [f"core/{p.name}" for p in kernel_modules()] + [f"core/{p.name}/" for p in wings()]
    expected += ["cli.py", "server/", "steps/", "config.py", "console.py", "errors.py"]
    missing = [name for name in expected if f"`{name}`" not in layout]
    assert not missing, f"README's Layout does not name {missing}"


def test_help_does_not_import_torch():
    code = "import sys, translate_cli.cli; assert 'torch' not in sys.modules, 'torch imported at CLI start-up'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_config_loading_and_the_ctranslate2_path_import_no_torch():
    """What `tcli translate EXPORT` and loading a config import at module level: never torch."""
    code = ("import sys, translate_cli.cli, translate_cli.config, translate_cli.steps.translate, "
            "translate_cli.core.ct2.backend, translate_cli.core.ct2.runtime, translate_cli.core.documents.lines; "
            "assert 'torch' not in sys.modules, [m for m in sys.modules if m.startswith('translate_cli')]")
    subprocess.run([sys.executable, "-c", code], check=True)


def option_fields():
    """(command, CLI parameter, library dataclass, field name): every CLI option that sets a library option."""
    from translate_cli.core.decoding import DecodeOptions
    from translate_cli.core.documents.options import LineOptions
    from translate_cli.core.evaluate.settings import GateSettings
    from translate_cli.core.serving.batcher import BatchSettings
    from translate_cli.core.serving.limits import ServerLimits

    owners = {"translate": [LineOptions, DecodeOptions], "evaluate": [DecodeOptions, GateSettings],
              "serve": [DecodeOptions, BatchSettings, ServerLimits]}
    renamed = {"significance": "method"}
    from translate_cli.cli import app

    group = typer.main.get_command(app)
    for command, classes in owners.items():
        for param in group.commands[command].params:
            name = renamed.get(param.name, param.name)
            for owner in classes:
                if name in {f.name for f in dataclasses.fields(owner)}:
                    yield command, param, owner, name
                    break


def test_the_command_line_takes_its_defaults_and_bounds_from_the_library():
    from translate_cli.cli import field_bounds, field_default
    from translate_cli.core.decoding import DecodeOptions

    checked = 0
    for command, param, owner, name in option_fields():
        where = f"tcli {command} {param.opts[0]} ({owner.__name__}.{name})"
        if owner is not DecodeOptions:  # decoding options default to the model's own (None)
            default = param.default.value if hasattr(param.default, "value") else param.default
            expected = field_default(owner, name)
            assert default == expected or (default is None and expected in (None, [])), where
        else:
            assert param.default is None, where
        bounds = field_bounds(owner, name)
        assert (param.min, param.max) == (bounds.get("min"), bounds.get("max")), where
        checked += 1
    assert checked >= 20, checked
