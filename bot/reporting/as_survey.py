"""The national survey's table as CSV."""

from __future__ import annotations

from bot.i18n import Translator
from bot.reporting.as_csv import csv_bytes
from bot.reporting.data import Branding, survey_rows
from bot.stats.shaping import Figures


def render_survey(figures: Figures, t: Translator, brand: Branding | None = None) -> bytes:
    header, rows = survey_rows(figures, t)
    return csv_bytes(rows, header)
