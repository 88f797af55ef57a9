"""The report's HTML printed to PDF: headless Chromium when the machine has it (a few
seconds for a yearly report), else WeasyPrint (pure Python on Pango; slower on long
documents). Both honour the print CSS: A4, margins, page numbers (``@page`` margin boxes).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

CHROMIUM_NAMES: Final = ("chromium", "chromium-browser", "google-chrome", "chrome")
CHROMIUM_ARGS: Final = (
    "--headless",
    "--no-sandbox",  # Plume may run as root in a container; the page is our own HTML
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-pdf-header-footer",
)
TIMEOUT_S: Final = 120


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        if path := shutil.which(name):
            return path
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


def html_to_pdf(html: str, engine: str = "auto") -> bytes:
    """``engine``: ``auto`` (Chromium if found, else WeasyPrint), ``chromium``, ``weasyprint``."""
    chromium = find_chromium() if engine in ("auto", "chromium") else None
    if chromium is not None:
        return _chromium(chromium, html)
    if engine == "chromium":
        raise RuntimeError("no Chromium found to print the PDF")
    from weasyprint import HTML  # imported here: a second of start-up the bot rarely needs

    return bytes(HTML(string=html).write_pdf())


def _chromium(path: str, html: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="plume-pdf-") as tmp:
        folder = Path(tmp)
        page = folder / "report.html"
        page.write_text(html, encoding="utf-8")
        out = folder / "report.pdf"
        result = subprocess.run(
            [
                path,
                *CHROMIUM_ARGS,
                f"--user-data-dir={folder / 'profile'}",
                f"--print-to-pdf={out}",
                page.as_uri(),
            ],
            capture_output=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0 or not out.exists():
            error = result.stderr.decode(errors="replace").strip().splitlines()[-1:]
            raise RuntimeError(f"Chromium could not print the PDF: {' '.join(error)}")
        return out.read_bytes()
