"""The command line as a newcomer meets it: help on every option, one-line errors, exit codes.

Each test runs ``python -m bot`` as a subprocess, exactly as typed in a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.__main__ import build_parser

ROOT = Path(__file__).resolve().parent.parent


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The error a command printed: one line on stderr, never a traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_option_of_every_command_has_a_help_line():
    parser = build_parser()
    commands = _subcommands(parser)
    assert {"run", "sandbox", "import", "ask", "report"} <= set(commands)
    undocumented = [
        f"{name} {action.option_strings or action.dest}"
        for name, sub in commands.items()
        for action in sub._actions
        if not isinstance(action, argparse._HelpAction) and not action.help
    ]
    assert undocumented == []


def test_sandbox_help_describes_host_and_port(tmp_path):
    result = cli(tmp_path, "sandbox", "--help")
    assert result.returncode == 0
    assert "--port PORT  port of the web chat" in result.stdout
    assert "--host HOST  address the web chat listens on" in result.stdout


def test_sandbox_on_a_busy_port_says_so_in_one_line(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = cli(tmp_path, "sandbox", "--port", str(port))
    assert result.returncode == 1
    assert one_line_error(result) == (
        f"sandbox: port {port} on 127.0.0.1 is already in use: "
        "choose another with --port (0 picks a free one)"
    )
    assert not list(tmp_path.glob("*.sqlite3"))


def test_sandbox_with_an_impossible_port(tmp_path):
    result = cli(tmp_path, "sandbox", "--port", "70000")
    assert result.returncode == 1
    assert one_line_error(result) == "sandbox: --port 70000: a port is a number from 0 to 65535"


def test_a_bad_setting_is_one_line_naming_it_and_exit_2(tmp_path):
    result = cli(tmp_path, "ask", "bonjour", PLUME_TIMEZONE="Mars/Olympus")
    assert result.returncode == 2
    assert one_line_error(result) == (
        "configuration error: PLUME_TIMEZONE: unknown time zone 'Mars/Olympus' (e.g. Europe/Paris)"
    )


def test_import_of_a_missing_folder(tmp_path):
    result = cli(tmp_path, "import", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert one_line_error(result) == f"import: {tmp_path / 'nowhere'} is not a directory"
    assert not (tmp_path / "plume.sqlite3").exists()  # said before any database is made


@pytest.mark.parametrize("command", ["ask", "report"])
def test_ask_and_report_on_a_missing_database_create_nothing(tmp_path, command):
    database = tmp_path / "plume.sqlite3"
    args = ["bonjour"] if command == "ask" else ["--from", "2026-01-01", "--to", "2026-01-31"]
    result = cli(tmp_path, command, *args)
    assert result.returncode == 1
    assert one_line_error(result) == (
        f"{command}: no database at {database}: "
        "import a catalogue first: python -m bot import DIR (or --demo)"
    )
    assert not database.exists()


@pytest.mark.parametrize("command", ["ask", "report"])
def test_ask_and_report_on_an_empty_database(tmp_path, command):
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"
    assert cli(tmp_path, "migrate", DATABASE_URL=url).returncode == 0
    args = ["bonjour"] if command == "ask" else ["--from", "2026-01-01", "--to", "2026-01-31"]
    result = cli(tmp_path, command, *args, DATABASE_URL=url)
    assert result.returncode == 1
    assert one_line_error(result) == (
        f"{command}: the database is empty (no library, resource, item nor FAQ entry): "
        "import a catalogue first: python -m bot import DIR (or --demo)"
    )


def test_ask_on_an_imported_catalogue_answers(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}"
    assert cli(tmp_path, "import", "--demo", DATABASE_URL=url).returncode == 0
    result = cli(tmp_path, "ask", "mot de passe oublié", DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert "[faq] demo-faq-mdp" in result.stdout


def test_a_missing_output_folder_is_one_line(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}"
    assert cli(tmp_path, "import", "--demo", DATABASE_URL=url).returncode == 0
    output = tmp_path / "no" / "such" / "folder" / "report.html"
    result = cli(
        tmp_path, "report", "--from", "2026-01-01", "--to", "2026-01-31", "-o", str(output),
        DATABASE_URL=url,
    )  # fmt: skip
    assert result.returncode == 1
    assert one_line_error(result).startswith("report: [Errno 2] No such file or directory")


def test_commands_run_on_uvloop_where_it_is_installed():
    uvloop = pytest.importorskip("uvloop")
    from bot.__main__ import _runner

    with _runner() as runner:
        assert isinstance(runner.get_loop(), uvloop.Loop)
        assert runner.run(asyncio.sleep(0, "done")) == "done"
