"""Plume's settings, read from the environment or a ``.env`` file (pydantic-settings)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SUPPORTED_LOCALES = ("fr", "en")
OFFICIAL_API = "https://api.telegram.org"
_DURATION = re.compile(r"^\s*(\d+)\s*(d|h|m|s)\s*$")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def default_database_url() -> str:
    return f"sqlite+aiosqlite:///{Path.cwd() / 'plume.sqlite3'}"


def parse_duration(text: str) -> dt.timedelta:
    """``24h`` -> 1 day, ``90s`` -> 90 seconds, ``30m``, ``2d``."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 24h, 30m or 90s")
    return dt.timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    telegram_bot_token: str | None = Field(default=None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str = Field(
        default=OFFICIAL_API, validation_alias="TELEGRAM_API_BASE_URL"
    )
    database_url: str = Field(
        default_factory=default_database_url, validation_alias="DATABASE_URL"
    )
    admins: Annotated[tuple[int, ...], NoDecode] = Field(
        default=(), validation_alias="PLUME_ADMINS"
    )
    timezone: str = Field(default="Europe/Paris", validation_alias="PLUME_TIMEZONE")
    default_locale: str = Field(default="fr", validation_alias="PLUME_DEFAULT_LOCALE")
    log_level: str = Field(
        default="INFO", validation_alias=AliasChoices("PLUME_LOG_LEVEL", "LOG_LEVEL")
    )
    reminder_offsets: Annotated[tuple[dt.timedelta, ...], NoDecode] = Field(
        default=(dt.timedelta(hours=24), dt.timedelta(hours=1)),
        validation_alias="PLUME_REMINDER_OFFSETS",
    )
    #: how long after a workshop's end its patrons are asked for a rating
    feedback_delay: Annotated[dt.timedelta, NoDecode] = Field(
        default=dt.timedelta(hours=3), validation_alias="PLUME_FEEDBACK_DELAY"
    )
    #: the satisfaction survey goes to active patrons at most once per this many days (0: off)
    survey_period_days: int = Field(
        default=0, ge=0, le=3660, validation_alias="PLUME_SURVEY_PERIOD_DAYS"
    )

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            for part in parts:
                if not part.lstrip("-").isdigit():
                    raise ValueError(f"{part!r} is not a Telegram user id")
            return tuple(int(p) for p in parts)
        return value

    @field_validator("reminder_offsets", mode="before")
    @classmethod
    def _split_offsets(cls, value: object) -> object:
        if isinstance(value, str):
            offsets = [parse_duration(p) for p in value.split(",") if p.strip()]
            return tuple(sorted(offsets, reverse=True))
        return value

    @field_validator("feedback_delay", mode="before")
    @classmethod
    def _parse_delay(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("telegram_api_base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL such as https://api.telegram.org")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _check_db(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("must be a SQLAlchemy URL such as sqlite+aiosqlite:///plume.db")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Paris)") from None
        return value

    @field_validator("default_locale")
    @classmethod
    def _check_locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LOCALES)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


_ENV_NAMES = {
    name: str(field.validation_alias.choices[0])
    if isinstance(field.validation_alias, AliasChoices)
    else str(field.validation_alias)
    for name, field in Settings.model_fields.items()
}


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; a bad value raises ConfigError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        variable = _ENV_NAMES.get(field, field)
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{variable}: {message}") from None


def require_token(settings: Settings) -> str:
    if not settings.telegram_bot_token:
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN: missing; set it to the token @BotFather gave you "
            "(or try Plume without Telegram: python -m bot sandbox)"
        )
    return settings.telegram_bot_token
