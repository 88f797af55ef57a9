"""Plume's own demo network (fictional), loaded by ``python -m bot import --demo``.

Workshops are written relative to today (``workshops.template.csv``: days from now and a
local time), so the demo always has upcoming workshops.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

DEMO_DIR = Path(__file__).resolve().parent
FILES = ("libraries.csv", "resources.csv", "items.csv", "faq.csv")
WORKSHOP_COLUMNS = (
    "id",
    "library_id",
    "title",
    "description",
    "starts_at",
    "duration_min",
    "capacity",
    "media_type",
)


def write_workshops(template: Path, target: Path, tz: ZoneInfo, today: dt.date) -> None:
    with (
        template.open(encoding="utf-8", newline="") as src,
        target.open("w", encoding="utf-8", newline="") as dst,
    ):
        writer = csv.DictWriter(dst, fieldnames=WORKSHOP_COLUMNS)
        writer.writeheader()
        for row in csv.DictReader(src):
            day = today + dt.timedelta(days=int(row.pop("starts_in_days")))
            start = dt.datetime.combine(day, dt.time.fromisoformat(row.pop("time")), tz)
            writer.writerow({**row, "starts_at": start.isoformat()})


@contextmanager
def demo_export(tz: ZoneInfo, today: dt.date | None = None) -> Iterator[Path]:
    """A temporary export folder holding the demo network."""
    with tempfile.TemporaryDirectory(prefix="plume-demo-") as tmp:
        folder = Path(tmp)
        for name in FILES:
            shutil.copyfile(DEMO_DIR / name, folder / name)
        write_workshops(
            DEMO_DIR / "workshops.template.csv",
            folder / "workshops.csv",
            tz,
            today or dt.datetime.now(tz).date(),
        )
        yield folder


USAGE_DIR = DEMO_DIR / "usage"
_SAMPLE_YEAR = 2025
_MONTH_NAMES = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def demo_usage_files(target: Path, today: dt.date | None = None) -> list[Path]:
    """The sample COUNTER reports (and plain CSV) of the demo platforms, their 2025 months
    moved onto the last 12 full months, so that the default report shows them."""
    import re

    today = today or dt.datetime.now(dt.UTC).astimezone().date()
    end = today.replace(day=1) - dt.timedelta(days=1)
    months = [end.replace(day=1)]
    while len(months) < 12:
        months.insert(0, (months[0] - dt.timedelta(days=1)).replace(day=1))
    last_day = end

    def shift_date(match: re.Match[str]) -> str:
        month = months[int(match.group(1)) - 1]
        if match.group(2) is None:
            return f"{month:%Y-%m}"
        if match.group(2) == "01":
            return f"{month:%Y-%m}-01"
        if int(match.group(1)) == 12:
            return last_day.isoformat()
        following = (month + dt.timedelta(days=32)).replace(day=1)
        return (following - dt.timedelta(days=1)).isoformat()

    def shift_name(match: re.Match[str]) -> str:
        month = months[_MONTH_NAMES.index(match.group(1))]
        return f"{_MONTH_NAMES[month.month - 1]}-{month.year}"

    target.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(USAGE_DIR.iterdir()):
        text = source.read_text(encoding="utf-8")
        text = re.sub(rf"\b{_SAMPLE_YEAR}-(\d\d)(?:-(\d\d))?\b", shift_date, text)
        text = re.sub(rf"\b({'|'.join(_MONTH_NAMES)})-{_SAMPLE_YEAR}\b", shift_name, text)
        path = target / source.name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
