"""Plume's settings, read from the environment or a ``.env`` file (pydantic-settings)."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

SUPPORTED_LOCALES = ("fr", "en")
OFFICIAL_API = "https://api.telegram.org"
#: what @BotFather hands out: the bot's numeric id, a colon, then letters, digits, _ and -
_TOKEN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{1,100}$")
#: Telegram's rule for setWebhook's secret_token
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_LISTEN = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[^:\s/]+):(?P<port>\d{1,5})$")
DEFAULT_WEBHOOK_LISTEN = "0.0.0.0:8080"
#: the URL forms hosting providers hand out, mapped to the async drivers Plume uses
_DATABASE_SCHEMES = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def default_database_url() -> str:
    return f"sqlite+aiosqlite:///{Path.cwd() / 'plume.sqlite3'}"


def normalise_database_url(value: str) -> str:
    """``postgres://u:p@h/db`` → ``postgresql+asyncpg://u:p@h/db``, ``sqlite:///x`` →
    ``sqlite+aiosqlite:///x``; libpq's ``sslmode=`` becomes asyncpg's ``ssl=``."""
    scheme, sep, rest = value.strip().partition("://")
    if not sep or not rest:
        raise ValueError(
            "must be a database URL such as postgresql://user:password@host/plume or "
            "sqlite:///plume.sqlite3"
        )
    driver = _DATABASE_SCHEMES.get(scheme.lower())
    if driver is None:
        known = "postgres://, postgresql://, sqlite:///"
        raise ValueError(f"unsupported scheme {scheme + '://'!r}; use one of {known}")
    if driver.startswith("postgresql"):
        rest = re.sub(r"([?&])sslmode=", r"\1ssl=", rest)
    return f"{driver}://{rest}"


def parse_listen(value: str) -> tuple[str, int]:
    """``0.0.0.0:8080`` → ("0.0.0.0", 8080); ``[::]:8080`` → ("::", 8080)."""
    match = _LISTEN.match(value.strip())
    port = int(match.group("port")) if match else -1
    if match is None or not 0 <= port <= 65535:
        raise ValueError(f"{value!r} is not host:port such as {DEFAULT_WEBHOOK_LISTEN}")
    return match.group("host").strip("[]"), port


def parse_duration(text: str) -> dt.timedelta:
    """``24h`` -> 1 day, ``90s`` -> 90 seconds, ``30m``, ``2d``, ``1h30``: the time grammar's."""
    from bot.shared.when import WhenError
    from bot.shared.when import parse_duration as grammar  # bot.i18n imports this module

    try:
        return grammar(text)
    except WhenError:
        raise ValueError(f"{text!r} is not a duration like 24h, 30m or 90s") from None


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
    #: webhook mode when set: the public URL Telegram posts updates to (its path is served)
    webhook_url: str | None = Field(default=None, validation_alias="PLUME_WEBHOOK_URL")
    #: where the webhook listener (plain HTTP, also /healthz and /metrics) binds
    webhook_listen: str = Field(
        default=DEFAULT_WEBHOOK_LISTEN, validation_alias="PLUME_WEBHOOK_LISTEN"
    )
    #: required in webhook mode: Telegram sends it back in X-Telegram-Bot-Api-Secret-Token
    webhook_secret: str | None = Field(default=None, validation_alias="PLUME_WEBHOOK_SECRET")
    #: false lifts PTB's 30/s limiter on direct replies: only to measure the bot's own
    #: capacity against the stand-in, never against Telegram
    reply_rate_limit: bool = Field(default=True, validation_alias="PLUME_REPLY_RATE_LIMIT")
    #: a direct reply Telegram answers with a 5xx (or that cannot connect) is tried again
    #: for this many seconds (0.5 s, 1 s, 2 s... apart); 0: never
    reply_retry_seconds: float = Field(
        default=8.0, ge=0, le=60, validation_alias="PLUME_REPLY_RETRY_SECONDS"
    )
    #: questions' usage events are written together, this many seconds after the first of
    #: a batch (written at once on SIGTERM; a SIGKILL loses at most this much of them)
    usage_batch_seconds: float = Field(
        default=0.1, gt=0, le=10, validation_alias="PLUME_USAGE_BATCH_SECONDS"
    )
    #: load the semantic index and the model's weights at start, before taking updates
    #: (false: on the first question, which is then answered on words alone meanwhile)
    warm_up: bool = Field(default=True, validation_alias="PLUME_WARM_UP")
    #: polling mode only: where /healthz and /metrics are served (unset: not served)
    metrics_listen: str | None = Field(default=None, validation_alias="PLUME_METRICS_LISTEN")

    #: first wait before a send that failed for a transient reason is tried again (doubling)
    outbox_backoff: float = Field(
        default=5.0, gt=0, le=3600, validation_alias="PLUME_OUTBOX_BACKOFF"
    )
    #: how long a message failing for transient reasons keeps being retried
    outbox_give_up: Annotated[dt.timedelta, NoDecode] = Field(
        default=dt.timedelta(hours=6), validation_alias="PLUME_OUTBOX_GIVE_UP"
    )
    #: the drain lease's lifetime (renewed every fifth of it; taken over after it lapses)
    outbox_lease_ttl: float = Field(
        default=5.0, ge=1, le=60, validation_alias="PLUME_OUTBOX_LEASE_TTL"
    )

    #: where the search index is saved between starts (empty: beside a SQLite database, else
    #: in the user's cache directory); "off" keeps it in memory only
    search_index_dir: str = Field(default="", validation_alias="PLUME_SEARCH_INDEX_DIR")
    #: how often a running bot looks for catalogue changes (imports, FAQ edits), in seconds
    search_refresh_seconds: float = Field(
        default=30.0, gt=0, le=86400, validation_alias="PLUME_SEARCH_REFRESH_SECONDS"
    )
    #: the network's name on the evaluation report's cover
    network_name: str = Field(
        default="Bibliothèque numérique départementale", validation_alias="PLUME_NETWORK_NAME"
    )
    #: an image (PNG, JPEG or SVG) printed at the top of the evaluation report
    report_logo: Path | None = Field(default=None, validation_alias="PLUME_REPORT_LOGO")

    #: what prints the report's PDF: auto (headless Chromium if installed, else WeasyPrint)
    pdf_engine: Literal["auto", "chromium", "weasyprint"] = Field(
        default="auto", validation_alias="PLUME_PDF_ENGINE"
    )

    #: the data controller named in the information notice and the processing register
    controller_name: str = Field(
        default="Département (service de la lecture publique)",
        min_length=1,
        validation_alias="PLUME_CONTROLLER_NAME",
    )
    #: how to reach the data protection officer (an e-mail or postal address, a web page)
    dpo_contact: str = Field(
        default="dpo@departement.example.fr", min_length=1, validation_alias="PLUME_DPO_CONTACT"
    )
    #: patrons inactive for longer are erased by the daily retention run
    retention_days: int = Field(
        default=365, ge=1, le=3660, validation_alias="PLUME_RETENTION_DAYS"
    )
    #: the raw text of unanswered questions (and unsent handover drafts) is erased after
    question_text_days: int = Field(
        default=120, ge=1, le=3660, validation_alias="PLUME_QUESTION_TEXT_DAYS"
    )
    #: workshop registrations and attendance lose the person this long after the workshop
    registration_days: int = Field(
        default=120, ge=1, le=3660, validation_alias="PLUME_REGISTRATION_DAYS"
    )

    @field_validator("report_logo", mode="before")
    @classmethod
    def _check_logo(cls, value: object) -> Path | None:
        if value is None or str(value).strip() == "":
            return None
        value = Path(str(value))
        if not value.is_file():
            raise ValueError(f"{value} is not a file")
        if value.suffix.lower() not in (".png", ".jpg", ".jpeg", ".svg"):
            raise ValueError("must be a .png, .jpg or .svg image")
        return value

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

    @field_validator("feedback_delay", "outbox_give_up", mode="before")
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
        return normalise_database_url(value)

    @field_validator("telegram_bot_token")
    @classmethod
    def _check_token(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        value = value.strip()
        if not _TOKEN.match(value):
            raise ValueError(
                "malformed token; @BotFather gives one like 123456789:AAH… "
                "(digits, a colon, then letters, digits, _ and -)"
            )
        return value

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        if not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", value.strip()):
            raise ValueError(
                "must be the public http(s) URL Telegram posts to, such as "
                "https://plume.example.fr/telegram (no query string)"
            )
        return value.strip()

    @field_validator("webhook_listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        parse_listen(value)
        return value.strip()

    @field_validator("metrics_listen")
    @classmethod
    def _check_metrics_listen(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        parse_listen(value)
        return value.strip()

    @field_validator("webhook_secret")
    @classmethod
    def _check_secret(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _WEBHOOK_SECRET.match(value):
            raise ValueError("must be 1 to 256 characters among A-Z a-z 0-9 _ -")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url and not self.webhook_secret:
            raise _MissingSetting("webhook_secret", "required when PLUME_WEBHOOK_URL is set")
        return self

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

    @property
    def webhook_path(self) -> str:
        """The path of PLUME_WEBHOOK_URL, which the listener serves ("/" when it has none)."""
        assert self.webhook_url is not None
        path = self.webhook_url.split("://", 1)[1].partition("/")[2]
        return "/" + path

    @property
    def search_index_path(self) -> Path | None:
        """The folder of the saved search index (None: not saved)."""
        return search_index_path(self.search_index_dir, self.database_url)


class _MissingSetting(ValueError):
    """A rule between settings failed; ``field`` is the one to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def search_index_path(setting: str, database_url: str) -> Path | None:
    """``PLUME_SEARCH_INDEX_DIR``, or its default for the database (see ``Settings``)."""
    if setting.strip().lower() == "off":
        return None
    if setting.strip():
        return Path(setting).expanduser()
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database.startswith(":memory:"):
            return None
        return Path(url.database + ".search-index").expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    place = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{url.host}_{url.port}_{url.database}")[:120]
    return cache / "plume" / "search-index" / place


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
        # pydantic types __init__ field by field; these are checked by its validation below
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, _MissingSetting):
            field = cause.field
        else:
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
