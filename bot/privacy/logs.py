"""Logs never hold the bot token, at any level.

httpx logs every request's URL (``https://api.telegram.org/bot<token>/getMe``) at INFO and
DEBUG, and tracebacks of a refused token repeat the URL. :class:`RedactingFormatter` formats
the record as usual, traceback included, then replaces the token (the configured one, and
anything shaped like one after ``/bot``) with ``<token>``: one place, whatever the logger.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

#: a token in a Bot API URL, whichever it is (``/bot123456:AA…/``, ``/file/bot…``)
_URL_TOKEN = re.compile(r"(/bot)\d{3,20}:[A-Za-z0-9_-]{10,}")
REDACTED = "<token>"


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, secrets: Iterable[str | None] = ()) -> None:
        super().__init__(fmt)
        self._secrets = tuple(s for s in secrets if s)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _URL_TOKEN.sub(rf"\1{REDACTED}", text)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def install(fmt: str, secrets: Iterable[str | None]) -> None:
    """Every handler of the root logger formats through the redaction."""
    formatter = RedactingFormatter(fmt, secrets)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
