"""The report as JSON: :func:`~bot.reporting.data.to_data` as it is."""

from __future__ import annotations

import json

from bot.i18n import Translator
from bot.reporting.data import Branding, to_data
from bot.stats.shaping import Figures


def render_json(figures: Figures, t: Translator, brand: Branding | None = None) -> bytes:
    return json.dumps(to_data(figures, t), ensure_ascii=False, indent=2).encode()
