"""Import speed: ``python -m bot import`` of a large catalogue on SQLite.

    python bench/import_speed.py [--items 1000000]

Target (issue 2): 1,000,000 items in under 2 minutes. Measured through the real command
line (a fresh SQLite file: migration, validation, upsert, progress bar), then again with the
same files (nothing changes: every row compared), and an edited file (1% of rows changed).
Baseline, same run: Python's sqlite3 ``executemany`` inserting the same rows into the same
schema with no validation and no comparison — the floor any importer on SQLite stands on.
"""

from __future__ import annotations

import argparse
import csv
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from catalogue_gen import COLUMNS, RESOURCE_OF, generate_items  # noqa: E402

TARGET_SECONDS = 120.0
RESOURCES = [
    {
        "id": rid,
        "media_type": media,
        "name": f"Ressource {media}",
        "description": "",
        "access": "",
        "url": f"https://numerique.example/{media}",
        "keywords": media,
    }
    for media, rid in RESOURCE_OF.items()
]


def write_export(folder: Path, items: int, seed: int, edit_every: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "resources.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, list(RESOURCES[0]))
        writer.writeheader()
        writer.writerows(RESOURCES)
    with (folder / "items.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, [*COLUMNS, "added_on"])
        writer.writeheader()
        for number, row in enumerate(generate_items(items, seed, sources=None)):
            if edit_every and number % edit_every == 0:
                row["title"] += " (nouvelle édition)"
            writer.writerow({**row, "added_on": "2026-11-01"})


def cli_import(folder: Path, database: Path) -> tuple[float, str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "PYTHONPATH": str(ROOT),
    }
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "bot", "import", str(folder)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - began
    total = [line for line in result.stdout.splitlines() if line.startswith("items.csv")]
    return elapsed, total[0] if total else result.stdout.strip()


def baseline_insert(folder: Path, database: Path) -> float:
    """Bare sqlite3 executemany of the same rows (schema from the real migration)."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    began = time.perf_counter()
    conn = sqlite3.connect(database)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    with conn:
        conn.executemany(
            "INSERT INTO resources (id, media_type, name, description, access, url, keywords,"
            " created_at) VALUES (:id, :media_type, :name, :description, :access, :url,"
            " :keywords, '2026-11-01')",
            RESOURCES,
        )
        with (folder / "items.csv").open(encoding="utf-8", newline="") as handle:
            rows = (
                {**row, "year": int(row["year"]) if row["year"] else None}
                for row in csv.DictReader(handle)
            )
            conn.executemany(
                "INSERT INTO items (id, resource_id, media_type, title, creator, year, genres,"
                " language, added_on, imported_at) VALUES (:id, :resource_id, :media_type,"
                " :title, :creator, :year, :genres, :language, :added_on, '2026-11-01')",
                rows,
            )
    conn.close()
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="plume-import-bench-") as tmp:
        base = Path(tmp)
        began = time.perf_counter()
        write_export(base / "v1", args.items, args.seed)
        write_export(base / "v2", args.items, args.seed, edit_every=100)
        print(
            f"generated 2 exports of {args.items:,} items in {time.perf_counter() - began:.1f} s"
        )

        plume_db = base / "plume.sqlite3"
        first, first_line = cli_import(base / "v1", plume_db)
        again, again_line = cli_import(base / "v1", plume_db)
        edited, edited_line = cli_import(base / "v2", plume_db)
        floor = baseline_insert(base / "v1", base / "baseline.sqlite3")

    rate = args.items / first
    print(f"plume import, fresh database : {first:7.1f} s  ({rate:,.0f} items/s)  {first_line}")
    print(f"plume import, same files     : {again:7.1f} s  {again_line}")
    print(f"plume import, 1% rows edited : {edited:7.1f} s  {edited_line}")
    print(f"baseline sqlite3 executemany : {floor:7.1f} s  ({args.items / floor:,.0f} items/s)")
    print(f"ratio plume / baseline       : {first / floor:7.2f}x")
    scaled = first * 1_000_000 / args.items
    verdict = "OK" if scaled <= TARGET_SECONDS else "TOO SLOW"
    print(f"target: 1,000,000 items < {TARGET_SECONDS:.0f} s -> {scaled:.1f} s scaled, {verdict}")
    return 0 if scaled <= TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
