"""The report as PDF: the HTML document printed (A4, page numbers; :mod:`bot.reporting.pdf`)."""

from __future__ import annotations

from bot.i18n import Translator
from bot.reporting.as_html import render_html
from bot.reporting.data import Branding
from bot.reporting.pdf import html_to_pdf
from bot.stats.shaping import Figures

# PDF ----------------------------------------------------------------------------------


def render_pdf(figures: Figures, t: Translator, brand: Branding | None = None) -> bytes:
    """The HTML report printed (A4, page numbers, vector charts): see bot.reporting.pdf."""
    brand = brand or Branding()
    return html_to_pdf(render_html(figures, t, brand, for_print=True).decode(), brand.pdf_engine)
