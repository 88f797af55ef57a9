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
