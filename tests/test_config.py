import datetime as dt
import socket
import subprocess
import sys

import pytest

from bot.config import ConfigError, load_settings, parse_duration


def test_defaults(monkeypatch, tmp_path):
    settings = load_settings()
    assert settings.telegram_bot_token is None
    assert settings.telegram_api_base_url == "https://api.telegram.org"
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'plume.sqlite3'}"
    assert settings.admins == ()
    assert settings.timezone == "Europe/Paris"
    assert settings.default_locale == "fr"
    assert settings.reminder_offsets == (dt.timedelta(hours=24), dt.timedelta(hours=1))


def test_environment_and_dotenv(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("TELEGRAM_BOT_TOKEN=123:abc\nPLUME_ADMINS=5, 7\n")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:8081/")
    monkeypatch.setenv("PLUME_REMINDER_OFFSETS", "30m,24h,90s")
    settings = load_settings()
    assert settings.telegram_bot_token == "123:abc"
    assert settings.admins == (5, 7)
    assert settings.telegram_api_base_url == "http://127.0.0.1:8081"
    assert settings.reminder_offsets == (
        dt.timedelta(hours=24),
        dt.timedelta(minutes=30),
        dt.timedelta(seconds=90),
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PLUME_ADMINS", "12,bob"),
        ("PLUME_TIMEZONE", "Europe/Lutece"),
        ("PLUME_DEFAULT_LOCALE", "de"),
        ("TELEGRAM_API_BASE_URL", "api.telegram.org"),
        ("DATABASE_URL", "plume.db"),
        ("PLUME_REMINDER_OFFSETS", "24"),
        ("PLUME_LOG_LEVEL", "LOUD"),
    ],
)
def test_malformed_setting_names_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=f"^{variable}: "):
        load_settings()


def test_durations():
    assert parse_duration("90s") == dt.timedelta(seconds=90)
    assert parse_duration("2d") == dt.timedelta(days=2)
    with pytest.raises(ValueError):
        parse_duration("h1")


def _run_cli(*args, env_extra=None, tmp_path=None):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def test_run_without_token_exits_2_with_one_line(tmp_path, monkeypatch):
    import bot

    root = str(__import__("pathlib").Path(bot.__file__).parent.parent)
    result = _run_cli("run", env_extra={"PYTHONPATH": root}, tmp_path=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "TELEGRAM_BOT_TOKEN" in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_setting_exits_2(tmp_path):
    import bot

    root = str(__import__("pathlib").Path(bot.__file__).parent.parent)
    result = _run_cli(
        "migrate", env_extra={"PYTHONPATH": root, "PLUME_TIMEZONE": "Nowhere"}, tmp_path=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: PLUME_TIMEZONE: unknown time zone 'Nowhere' (e.g. Europe/Paris)"
    ]


# -- production settings: webhook, DATABASE_URL forms, unreachable database, token ----------


def _plume_cli(tmp_path, *args, **env):
    import bot

    root = str(__import__("pathlib").Path(bot.__file__).parent.parent)
    return _run_cli(*args, env_extra={"PYTHONPATH": root, **env}, tmp_path=tmp_path)


def _one_line(result):
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"PLUME_WEBHOOK_URL": "https://plume.example.fr/tg"},
            "configuration error: PLUME_WEBHOOK_SECRET: required when PLUME_WEBHOOK_URL is set",
        ),
        (
            {"PLUME_WEBHOOK_URL": "https://plume.example.fr/tg", "PLUME_WEBHOOK_SECRET": "a b"},
            "configuration error: PLUME_WEBHOOK_SECRET: must be 1 to 256 characters among "
            "A-Z a-z 0-9 _ -",
        ),
        (
            {
                "PLUME_WEBHOOK_URL": "https://plume.example.fr/tg",
                "PLUME_WEBHOOK_SECRET": "x" * 257,
            },
            "configuration error: PLUME_WEBHOOK_SECRET: must be 1 to 256 characters among "
            "A-Z a-z 0-9 _ -",
        ),
        (
            {"PLUME_WEBHOOK_URL": "plume.example.fr/tg", "PLUME_WEBHOOK_SECRET": "s"},
            "configuration error: PLUME_WEBHOOK_URL: must be the public http(s) URL Telegram "
            "posts to, such as https://plume.example.fr/telegram (no query string)",
        ),
        (
            {"PLUME_WEBHOOK_LISTEN": "8080"},
            "configuration error: PLUME_WEBHOOK_LISTEN: '8080' is not host:port such as "
            "0.0.0.0:8080",
        ),
        (
            {"DATABASE_URL": "mysql://db.example.fr/plume"},
            "configuration error: DATABASE_URL: unsupported scheme 'mysql://'; use one of "
            "postgres://, postgresql://, sqlite:///",
        ),
        (
            {"TELEGRAM_BOT_TOKEN": "bot123456:ABC DEF"},
            "configuration error: TELEGRAM_BOT_TOKEN: malformed token; @BotFather gives one like "
            "123456789:AAH… (digits, a colon, then letters, digits, _ and -)",
        ),
    ],
)
def test_production_settings_errors_are_one_line(tmp_path, env, expected):
    assert _one_line(_plume_cli(tmp_path, "run", **env)) == expected


@pytest.mark.parametrize("setting", ["PLUME_WEBHOOK_LISTEN", "PLUME_METRICS_LISTEN"])
def test_an_address_already_taken_is_one_line_before_anything_starts(tmp_path, setting):
    """Another program (or a second instance given the same port) holds the address: one
    line naming the setting, exit 2, and nothing started meanwhile (no database made)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        env = {"TELEGRAM_BOT_TOKEN": "123456:ABCDEF", setting: address}
        if setting == "PLUME_WEBHOOK_LISTEN":
            env |= {"PLUME_WEBHOOK_URL": f"http://{address}/tg", "PLUME_WEBHOOK_SECRET": "s3cret"}
        line = _one_line(_plume_cli(tmp_path, "run", **env))
    assert line == (
        f"configuration error: {setting}: cannot listen on {address} (Address already in use)"
    )
    assert list(tmp_path.glob("*.sqlite3")) == []


def test_webhook_settings_accepted():
    settings = load_settings(
        webhook_url="https://plume.example.fr/telegram/hook", webhook_secret="A-z_09"
    )
    assert settings.webhook_path == "/telegram/hook"
    assert settings.webhook_listen == "0.0.0.0:8080"
    assert (
        load_settings(webhook_url="http://127.0.0.1:8443", webhook_secret="s").webhook_path == "/"
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgres://u:p@db.example.fr:5432/plume",
            "postgresql+asyncpg://u:p@db.example.fr:5432/plume",
        ),
        ("postgresql://u@h/plume?sslmode=require", "postgresql+asyncpg://u@h/plume?ssl=require"),
        ("postgresql+asyncpg://u@h/plume", "postgresql+asyncpg://u@h/plume"),
        ("sqlite:///plume.sqlite3", "sqlite+aiosqlite:///plume.sqlite3"),
        (
            "sqlite+aiosqlite:////var/lib/plume/plume.db",
            "sqlite+aiosqlite:////var/lib/plume/plume.db",
        ),
    ],
)
def test_database_url_forms_map_to_async_drivers(monkeypatch, given, expected):
    monkeypatch.setenv("DATABASE_URL", given)
    assert load_settings().database_url == expected


def test_migrate_accepts_the_plain_sqlite_form(tmp_path):
    result = _plume_cli(tmp_path, "migrate", DATABASE_URL="sqlite:///data/plume.sqlite3")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "plume.sqlite3").exists()


def test_migrate_accepts_the_postgres_form_hosts_hand_out(tmp_path, database_url):
    from tests.conftest import BACKEND

    if BACKEND != "postgresql":
        pytest.skip("PLUME_TEST_DATABASE=postgresql runs this one")
    hosted = database_url.replace("postgresql+asyncpg://", "postgres://")
    result = _plume_cli(tmp_path, "migrate", DATABASE_URL=hosted)
    assert result.returncode == 0, result.stderr
    assert "database is up to date" in result.stdout


@pytest.mark.parametrize(
    ("command", "url"),
    [
        ("run", "postgresql://postgres@127.0.0.1:1/plume"),
        ("migrate", "postgres://postgres@127.0.0.1:1/plume"),
        ("run", "sqlite:////proc/no-such-place/plume.sqlite3"),
    ],
)
def test_unreachable_database_is_one_line(tmp_path, command, url):
    env = {"DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": "123456:ABCDEF"}
    line = _one_line(_plume_cli(tmp_path, command, **env))
    assert line.startswith("configuration error: DATABASE_URL: cannot reach the database at "), (
        line
    )


async def test_token_refused_by_telegram_is_one_line(tmp_path):
    import asyncio

    import bot
    from bot.standin import BotAPIStandin

    root = str(__import__("pathlib").Path(bot.__file__).parent.parent)
    async with BotAPIStandin(token="123456:THE-RIGHT-ONE") as api:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            env={
                "PATH": "/usr/bin:/bin",
                "HOME": str(tmp_path),
                "PYTHONPATH": root,
                "TELEGRAM_BOT_TOKEN": "123456:A-WRONG-ONE",
                "TELEGRAM_API_BASE_URL": api.base_url,
            },
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2, stderr.decode()
    lines = [line for line in stderr.decode().splitlines() if "configuration error" in line]
    assert lines and lines[0].startswith(
        "configuration error: TELEGRAM_BOT_TOKEN: Telegram refused this token"
    ), stderr.decode()
    assert "Traceback" not in stderr.decode()
