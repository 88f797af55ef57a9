"""The evaluation report ("document synthétique d'évaluation"): HTML, PDF, CSV or JSON.

:func:`build_report` gathers the :class:`~bot.stats.shaping.Figures` (this period and the previous
one of the same length) in SQL, then renders them in a thread so a running bot stays
responsive. Every format reads the same ``Figures``: the JSON is :func:`to_data`, the CSV
flattens that same data, the HTML and the PDF (the HTML printed by headless Chromium or
WeasyPrint: :mod:`bot.reporting.pdf`) show it.
The HTML document is self-contained: inline CSS, vector charts as inline SVG, a table for
each chart, no script."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from bot.i18n import Translator, translator
from bot.reporting.as_csv import csv_bytes, render_csv
from bot.reporting.as_html import render_html
from bot.reporting.as_json import render_json
from bot.reporting.as_pdf import render_pdf
from bot.reporting.as_survey import render_survey
from bot.reporting.data import Branding, Report, default_period, to_data, year_period
from bot.reporting.pdf import ChromiumPrinter, uses_chromium
from bot.stats.metrics import NONE_KEY
from bot.stats.period import Period
from bot.stats.queries import StatsService
from bot.stats.shaping import Figures

FORMATS: Final = ("html", "pdf", "csv", "json", "survey")
MIME: Final = {
    "html": "text/html",
    "pdf": "application/pdf",
    "csv": "text/csv",
    "json": "application/json",
    "survey": "text/csv",
}


async def build_report(
    stats: StatsService,
    period: Period,
    *,
    library_id: str | None = None,
    fmt: str = "html",
    language: str = "fr",
    branding: Branding | None = None,
) -> Report:
    """Aggregates in SQL, renders in a thread; ``fmt`` is one of :data:`FORMATS`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    t = translator(language, str(stats.tz))
    brand = branding or Branding()
    if fmt == "pdf" and uses_chromium(brand.pdf_engine):
        # the browser starts while the figures are computed: its start-up was most of a PDF
        printer = await ChromiumPrinter.launch()
        try:
            figures = await stats.figures(period, library_id, compare=True)
            html = await asyncio.to_thread(render_html, figures, t, brand, for_print=True)
            content = await printer.print(html.decode())
        finally:
            await printer.close()
    else:
        figures = await stats.figures(period, library_id, compare=True)
        content = await asyncio.to_thread(RENDERERS[fmt], figures, t, brand)
    scope = f"-{library_id}" if library_id else ""
    kind = "survey" if fmt == "survey" else "report"
    ext = "csv" if fmt == "survey" else fmt
    name = f"plume-{kind}-{period.start.isoformat()}-{period.end.isoformat()}{scope}.{ext}"
    return Report(content, name, MIME[fmt], figures)


RENDERERS: Final[dict[str, Callable[[Figures, Translator, Branding], bytes]]] = {
    "html": render_html,
    "pdf": render_pdf,
    "csv": render_csv,
    "json": render_json,
    "survey": render_survey,
}


__all__ = ["NONE_KEY", "Report", "build_report", "csv_bytes", "render_html", "to_data"]


# Command line: python -m bot report ----------------------------------------------------


def add_report_arguments(parser: Any) -> None:
    parser.add_argument(
        "--from", dest="start", help="first day (YYYY-MM-DD); default: the last 12 full months"
    )
    parser.add_argument("--to", dest="end", help="last day, included (with --from)")
    parser.add_argument("--year", type=int, help="a calendar year instead (e.g. 2025)")
    parser.add_argument("--library", help="only this library (its id)")
    parser.add_argument(
        "--format",
        dest="fmt",
        choices=FORMATS,
        default="html",
        help="html, pdf, csv, json, or survey (the national survey's CSV); default: html",
    )
    parser.add_argument("--lang", choices=("fr", "en"), default="fr", help="default: fr")
    parser.add_argument(
        "--output", "-o", help="file to write (default: plume-report-….<format> here; - = stdout)"
    )
    parser.add_argument(
        "--rebuild-rollups",
        action="store_true",
        help="accepted for older scripts: there are no roll-ups, figures come from the events",
    )


def period_from_args(args: Any, tz: Any) -> Period:
    """--from/--to, --year, or the last 12 full months; PeriodError on bad words."""
    from bot.stats.period import PeriodError, parse_date

    if args.year is not None:
        if args.start or args.end:
            raise PeriodError("give --year or --from/--to, not both")
        if not 1900 <= args.year <= 9999:
            raise PeriodError(f"{args.year} is not a year")
        return year_period(args.year, tz)
    if args.start or args.end:
        if not (args.start and args.end):
            raise PeriodError("give both --from and --to")
        return Period.between(parse_date(args.start), parse_date(args.end), tz)
    return default_period(tz)


async def report_main(args: Any, engine: Any, tz: Any, branding: Branding | None = None) -> int:
    """``python -m bot report``: writes the report; 2 on bad dates, 1 on an unknown library."""
    import sys

    from sqlalchemy import select

    from bot.stats.period import PeriodError
    from storage.models import Library

    try:
        period = period_from_args(args, tz)
    except PeriodError as error:
        print(f"report: {error}", file=sys.stderr)
        return 2
    if args.library:
        async with engine.connect() as conn:
            if await conn.scalar(select(Library.id).where(Library.id == args.library)) is None:
                print(f"report: unknown library {args.library!r}", file=sys.stderr)
                return 1
    report = await build_report(
        StatsService(engine, tz),
        period,
        library_id=args.library,
        fmt=args.fmt,
        language=args.lang,
        branding=branding,
    )
    if args.output == "-":
        sys.stdout.buffer.write(report.content)
        return 0
    path = Path(args.output or report.filename)
    await asyncio.to_thread(path.write_bytes, report.content)
    print(f"report written to {path} ({len(report.content):,} bytes)")
    return 0
