"""The layout's one rule of dependency, checked on the source (issue 15, point 1).

``handlers → bot → storage``: ``storage/`` imports neither ``bot`` nor ``handlers``; ``bot/``
never imports ``handlers`` (``bot/app.py``, the wiring, excepted) and its feature packages
never import telegram; a module of ``handlers/<feature>/`` imports from another feature
only what that feature's package exports (its ``__init__``'s ``__all__``), never one of its
modules. ``handlers/shared/`` is everybody's; it imports no feature.
"""

from __future__ import annotations

import ast
import importlib
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: bot/ modules that talk to Telegram on purpose: the wiring and PTB's extension points
TELEGRAM_IN_BOT = {
    "bot.app",
    "bot.context",
    "bot.persistence",
    "bot.telegram_http",
    "bot.__main__",
}


def _modules(top: str) -> list[tuple[str, pathlib.Path]]:
    found = []
    for path in sorted((ROOT / top).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append((".".join(parts), path))
    return found


def _imports(module: str, path: pathlib.Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((base, [alias.name for alias in node.names], node.lineno))
    return found


def _feature(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_storage_imports_neither_bot_nor_handlers() -> None:
    wrong = [
        f"{module}:{line} imports {target}"
        for module, path in _modules("storage")
        for target, _, line in _imports(module, path)
        if target.split(".")[0] in ("bot", "handlers")
    ]
    assert not wrong, "\n".join(wrong)


def test_bot_never_imports_handlers_and_its_features_never_telegram() -> None:
    wrong = []
    for module, path in _modules("bot"):
        for target, _, line in _imports(module, path):
            top = target.split(".")[0]
            if top == "handlers" and module != "bot.app":
                wrong.append(f"{module}:{line} imports {target}")
            if (
                top == "telegram"
                and module not in TELEGRAM_IN_BOT
                and not module.startswith(("bot.standin", "bot.sandbox"))
            ):
                wrong.append(f"{module}:{line} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_a_handler_module_never_imports_another_features_internals() -> None:
    wrong = []
    for module, path in _modules("handlers"):
        own = _feature(module)
        if own is None:
            continue  # handlers/__init__.py: the registration of every feature
        for target, names, line in _imports(module, path):
            parts = target.split(".")
            if parts[0] != "handlers":
                continue
            if len(parts) == 1:  # from handlers import teach: a feature's package
                names_ok = all(name != "*" for name in names)
                if not names_ok:
                    wrong.append(f"{module}:{line} imports * from handlers")
                continue
            other = parts[1]
            if other == own:
                continue
            if own == "shared" and other != "shared":
                wrong.append(f"{module}:{line}: handlers.shared imports the feature {target}")
                continue
            if other == "shared":
                continue
            if len(parts) > 2:
                wrong.append(f"{module}:{line} imports {target}, inside another feature")
                continue
            exported = set(getattr(importlib.import_module(target), "__all__", ()))
            hidden = [name for name in names if name not in exported]
            if hidden:
                wrong.append(f"{module}:{line} takes {hidden} from {target}, not exported")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("top", ["bot", "handlers"])
def test_each_feature_is_a_package(top: str) -> None:
    """Every module of handlers/ is inside a package (a feature, shared or the gate);
    bot/ keeps at its top only the core every feature uses and the wiring."""
    core = {
        "bot": {
            "__init__",
            "__main__",
            "app",
            "config",
            "context",
            "i18n",
            "services",
            "persistence",
            "users",
            "libraries",
            "usage",
            "telegram_http",
            "throttle",
            "answers",
            "ask",
        },
        "handlers": {"__init__"},
    }[top]
    loose = sorted(path.stem for path in (ROOT / top).glob("*.py") if path.stem not in core)
    assert not loose, loose


def test_every_plume_module_is_imported_from_this_checkout() -> None:
    """A module moved away must not be found elsewhere (an installed copy, another
    checkout on sys.path): what the tests run is this tree."""
    import bot.app  # noqa: F401  (everything the bot runs)

    elsewhere = sorted(
        name
        for name, module in list(sys.modules.items())
        if name.split(".")[0] in ("bot", "handlers", "storage")
        and getattr(module, "__file__", None)
        and not pathlib.Path(module.__file__).resolve().is_relative_to(ROOT)
    )
    assert not elsewhere, elsewhere


def test_every_label_table_names_every_media_type() -> None:
    from bot.shared.labels import MEDIA_TABLES
    from storage.models import MEDIA_TYPES

    assert [sorted(table) for table in MEDIA_TABLES] == [sorted(MEDIA_TYPES)] * len(MEDIA_TABLES)


def test_the_callback_registry_names_handler_modules_that_exist() -> None:
    """Each prefix of the one table names the module that reads it (moved with it)."""
    from bot.shared.callbacks import ROUTES

    missing = sorted(
        {route.owner for route in ROUTES} - {module for module, _ in _modules("handlers")}
    )
    assert not missing, missing


def test_callback_prefixes_are_written_once_in_the_registry() -> None:
    """A handler imports its buttons' prefixes from ``bot.shared.callbacks``: a module-level
    string in handlers/ that starts like a route's prefix is a second copy of it."""
    from bot.shared.callbacks import ROUTES

    heads = {route.prefix.split(":")[0] + ":" for route in ROUTES}
    copies = []
    for module, path in _modules("handlers"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            if (
                isinstance(value, ast.Constant)
                and isinstance(value.value, str)
                and any(value.value.startswith(head) for head in heads)
            ):
                copies.append(f"{module}:{node.lineno} {value.value!r}")
    assert copies == []
