"""``python -m bot import-usage FILE...``: the providers' figures into ``platform_usage``.

Each file is read whole first (:mod:`bot.counter.parse`), its platforms matched to Plume
resources (``resources.counter_platform``, else the resource's name, both compared without
case or accents), then written in one transaction: the months the file covers are
replaced, for its resources and its report family, so importing the same file twice
changes nothing and a corrected report replaces the months it covers. A file with any
problem (``file:line: reason``) writes nothing.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.counter.parse import UsageFileError, UsageReport, read_usage_file
from storage.models import Resource, utcnow
from storage.report import PlatformUsage


def _key(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name.casefold())
    return " ".join("".join(c for c in plain if not unicodedata.combining(c)).split())


@dataclass
class ImportOutcome:
    imported: list[tuple[str, int]] = field(default_factory=list)  # (file, values)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


async def import_usage(engine: AsyncEngine, paths: list[Path]) -> ImportOutcome:
    outcome = ImportOutcome()
    async with engine.connect() as conn:
        resources = (
            await conn.execute(select(Resource.id, Resource.name, Resource.counter_platform))
        ).all()
    ids = {r.id for r in resources}
    by_platform: dict[str, set[str]] = {}
    for r in resources:
        for name in {r.counter_platform, r.name} if r.counter_platform else {r.name}:
            if name:
                by_platform.setdefault(_key(name), set()).add(r.id)
    explicit = {_key(r.counter_platform): r.id for r in resources if r.counter_platform}
    for path in paths:
        try:
            report = read_usage_file(path)
            rows = _resolve(report, ids, by_platform, explicit)
        except UsageFileError as error:
            outcome.errors.append(f"{path}:{error.line}: {error.reason}")
            continue
        except OSError as error:
            outcome.errors.append(f"{path}:0: {error.strerror or error}")
            continue
        await _write(engine, report, rows, path.name)
        outcome.imported.append((str(path), len(rows)))
    return outcome


def _resolve(
    report: UsageReport,
    ids: set[str],
    by_platform: dict[str, set[str]],
    explicit: dict[str, str],
) -> dict[tuple[str, dt.date, str], int]:
    """The values keyed by Plume resource id; an unknown platform is an error, by name."""
    resolved: dict[tuple[str, dt.date, str], int] = {}
    names = {name for name, _, _ in report.values} | set(report.lines)
    mapping: dict[str, str] = {}
    for name in sorted(names):
        line = report.lines.get(name, 1)
        if report.by_resource:
            if name not in ids:
                raise UsageFileError(line, f"unknown resource {name!r}")
            mapping[name] = name
            continue
        key = _key(name)
        if key in explicit:
            mapping[name] = explicit[key]
            continue
        matches = by_platform.get(key, set())
        if not matches:
            raise UsageFileError(
                line,
                f"unknown platform {name!r}: give it as counter_platform of a resource in "
                "resources.csv",
            )
        if len(matches) > 1:
            raise UsageFileError(
                line,
                f"platform {name!r} matches {len(matches)} resources "
                f"({', '.join(sorted(matches))}): set counter_platform on one of them",
            )
        mapping[name] = next(iter(matches))
    for (name, month, metric), value in report.values.items():
        cell = (mapping[name], month, metric)
        resolved[cell] = resolved.get(cell, 0) + value
    return resolved


async def _write(
    engine: AsyncEngine,
    report: UsageReport,
    rows: dict[tuple[str, dt.date, str], int],
    source: str,
) -> None:
    resources = sorted({r for r, _, _ in rows} | set())
    months = report.months or sorted({m for _, m, _ in rows})
    now = utcnow()
    async with engine.begin() as conn:
        if resources and months:
            await conn.execute(
                delete(PlatformUsage).where(
                    PlatformUsage.report == report.family,
                    PlatformUsage.resource_id.in_(resources),
                    PlatformUsage.month.in_(months),
                )
            )
        if rows:
            await conn.execute(
                insert(PlatformUsage),
                [
                    {
                        "resource_id": resource,
                        "month": month,
                        "metric": metric,
                        "report": report.family,
                        "value": value,
                        "source": source[:300],
                        "imported_at": now,
                    }
                    for (resource, month, metric), value in sorted(rows.items())
                ],
            )


async def import_usage_main(paths: list[str], engine: AsyncEngine) -> int:
    """Prints what was imported and each problem; 1 when a file was rejected."""
    import sys

    outcome = await import_usage(engine, [Path(p) for p in paths])
    for name, count in outcome.imported:
        print(f"{name}: {count} monthly figures imported")
    for error in outcome.errors:
        print(error, file=sys.stderr)
    if outcome.errors:
        print(
            f"{len(outcome.errors)} file(s) rejected: nothing imported from them", file=sys.stderr
        )
    return 0 if outcome.ok else 1


async def import_demo_usage(engine: AsyncEngine, folder: Path) -> ImportOutcome:
    """The demo network's sample COUNTER files (``bot/demo/usage``), on recent months."""
    from bot.demo import demo_usage_files

    return await import_usage(engine, demo_usage_files(folder))
