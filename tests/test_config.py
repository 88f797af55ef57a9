import datetime as dt
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
        ("PLUME_REMINDER_OFFSETS", "24 hours"),
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
