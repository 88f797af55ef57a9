"""Import of a département's export: CSV files with a header row.

Files may be UTF-8 (with or without a BOM) or Excel's Windows-1252, separated by ``,`` or
``;`` (see ``bot.shared.csv_table``; a guessed encoding is a warning). Rows are upserted by
``id``: importing twice changes nothing, an edited file updates its rows. A bad row is
reported as ``file:line: reason`` and skipped (after ``MAX_LISTED`` rows of one kind, one
line counts the rest); a file that cannot be read at all is rejected once, with its reason,
and the rows of other files that refer to it are counted in one line, not listed. With
``strict`` any bad row rejects the whole import (the files are checked in a first pass that
writes nothing). Files may be absent.

Rows are written in short transactions, one batch each, so that a bot running beside the
import on SQLite (one writer at a time) still records its patrons' questions: it waits a
batch, not the whole import. Each written resource, item and FAQ row carries the
catalogue version the import ends with (``revision``), which is bumped last: running bots
then index just those rows. An interrupted import is completed by running it again.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from tqdm import tqdm

from bot.search.loader import (
    bump_catalogue_version,
    next_catalogue_revision,
)
from bot.shared.csv_table import CsvRejected, inspect_csv, read_rows
from storage.models import (
    MEDIA_TYPES,
    Base,
    FaqEntry,
    Item,
    Library,
    Resource,
    Workshop,
)

DEMO_DIR = Path(__file__).resolve().parent / "demo"
BATCH = 2000
PROGRESS_FROM_ROWS = 5000
MAX_ID_LENGTH = 56
#: tables whose rows the search indexes: they carry the version that wrote them
REVISED_TABLES = frozenset({"resources", "items", "faq_entries"})
#: rows listed one by one per file and kind of error; the rest are counted in one line
MAX_LISTED = 20


class RowError(ValueError):
    """Why a row is rejected; ``kind`` groups the rows rejected for the same reason."""

    def __init__(self, message: str, kind: str | None = None, refers_to: str | None = None):
        super().__init__(message)
        self.kind = kind or message
        #: the file whose ids a bad reference was looked for in
        self.refers_to = refers_to


Converter = Callable[[dict[str, str], "ImportRun"], dict[str, Any]]


@dataclass(frozen=True)
class FileSpec:
    name: str
    table: Table
    columns: tuple[str, ...]
    convert: Converter
    title_column: str | None = None


@dataclass
class FileReport:
    name: str
    rows: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    #: why the whole file was rejected (None: it was read)
    rejected_because: str | None = None


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: things a person should check, that rejected nothing (a guessed encoding)
    warnings: list[str] = field(default_factory=list)
    strict_failed: bool = False
    #: titles of newly added resources and items, by media type (for announcements)
    added_titles: dict[str, list[str]] = field(default_factory=dict)

    @property
    def imported(self) -> int:
        return sum(f.imported for f in self.files)

    @property
    def updated(self) -> int:
        return sum(f.updated for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def failed(self) -> bool:
        """Something was rejected (a row, a file): ``import`` then exits 1."""
        return self.strict_failed or any(f.rejected or f.rejected_because for f in self.files)

    @property
    def changed(self) -> bool:
        return not self.strict_failed and (self.imported + self.updated) > 0

    def summary(self) -> str:
        lines = [
            f"{f.name}: rejected, nothing read from it"
            if f.rejected_because
            else f"{f.name}: {f.imported} imported, {f.updated} updated, "
            f"{f.unchanged} unchanged, {f.rejected} rejected"
            for f in self.files
        ]
        if self.strict_failed:
            files = sum(1 for f in self.files if f.rejected_because)
            lines.append(
                f"--strict: {self.rejected} bad rows"
                + (f", {files} unreadable file{'s' if files > 1 else ''}" if files else "")
                + ", nothing was imported"
            )
        else:
            files = sum(1 for f in self.files if f.rejected_because)
            lines.append(
                f"total: {self.imported} imported, {self.updated} updated, "
                f"{self.rejected} rejected"
                + (f", {files} file{'s' if files > 1 else ''} rejected" if files else "")
            )
        return "\n".join(lines)


@dataclass
class ImportRun:
    """Ids known so far (in the database or earlier in this import), for references."""

    libraries: set[str]
    resources: set[str]
    #: files rejected whole in this import, by name
    rejected_files: set[str] = field(default_factory=set)


# --- field parsing --------------------------------------------------------------------


def _id(row: dict[str, str]) -> str:
    value = row.get("id", "").strip()
    if not value:
        raise RowError("missing id")
    if len(value) > MAX_ID_LENGTH:
        raise RowError(f"id longer than {MAX_ID_LENGTH} characters")
    return value


def _required(row: dict[str, str], column: str) -> str:
    value = row.get(column, "").strip()
    if not value:
        raise RowError(f"missing {column}")
    return value


def _media_type(row: dict[str, str], *, optional: bool = False) -> str | None:
    value = row.get("media_type", "").strip().lower()
    if not value and optional:
        return None
    if value not in MEDIA_TYPES:
        raise RowError(
            f"unknown media type {value!r} (expected one of {', '.join(MEDIA_TYPES)})",
            kind="unknown media type",
        )
    return value


def _int(row: dict[str, str], column: str, *, optional: bool = False, minimum: int = 0) -> Any:
    value = row.get(column, "").strip()
    if not value and optional:
        return None
    try:
        number = int(value)
    except ValueError:
        raise RowError(
            f"bad {column} {value!r}: not a whole number", kind=f"bad {column}"
        ) from None
    if number < minimum:
        raise RowError(f"bad {column} {number}: must be at least {minimum}", kind=f"bad {column}")
    return number


def _list(row: dict[str, str], column: str, separator: str) -> str:
    parts = (p.strip() for p in row.get(column, "").split(separator))
    return separator.join(p for p in parts if p)


_REFERENCED_FILES = {"resource": "resources.csv", "library": "libraries.csv"}


def _reference(value: str, known: set[str], what: str) -> str:
    if value not in known:
        raise RowError(
            f"unknown {what} {value!r}", kind=f"unknown {what}", refers_to=_REFERENCED_FILES[what]
        )
    return value


def _library(row: dict[str, str], run: ImportRun) -> dict[str, Any]:
    return {
        "id": _id(row),
        "name": _required(row, "name"),
        "commune": row.get("commune", "").strip(),
        "address": row.get("address", "").strip(),
        "phone": row.get("phone", "").strip(),
        "email": row.get("email", "").strip(),
        "opening_hours": row.get("opening_hours", "").strip(),
    }


def _resource(row: dict[str, str], run: ImportRun) -> dict[str, Any]:
    return {
        "id": _id(row),
        "media_type": _media_type(row),
        "name": _required(row, "name"),
        "description": row.get("description", "").strip(),
        "access": row.get("access", "").strip(),
        "url": row.get("url", "").strip(),
        "keywords": _list(row, "keywords", ";"),
        "counter_platform": row.get("counter_platform", "").strip()[:200],
    }


def _item(row: dict[str, str], run: ImportRun) -> dict[str, Any]:
    added = row.get("added_on", "").strip()
    try:
        added_on = dt.date.fromisoformat(added) if added else None
    except ValueError:
        raise RowError(
            f"bad date {added!r} in added_on (expected YYYY-MM-DD)", kind="bad added_on"
        ) from None
    return {
        "id": _id(row),
        "resource_id": _reference(_required(row, "resource_id"), run.resources, "resource"),
        "media_type": _media_type(row),
        "title": _required(row, "title"),
        "creator": row.get("creator", "").strip(),
        "year": _int(row, "year", optional=True),
        "genres": _list(row, "genres", ";"),
        "language": row.get("language", "").strip(),
        "added_on": added_on,
    }


def _faq(row: dict[str, str], run: ImportRun) -> dict[str, Any]:
    resource = row.get("resource_id", "").strip()
    return {
        "id": _id(row),
        "question": _required(row, "question"),
        "answer": _required(row, "answer"),
        "alternatives": _list(row, "alternatives", "|"),
        "resource_id": _reference(resource, run.resources, "resource") if resource else None,
    }


def _workshop(row: dict[str, str], run: ImportRun) -> dict[str, Any]:
    starts = _required(row, "starts_at")
    try:
        starts_at = dt.datetime.fromisoformat(starts)
    except ValueError:
        raise RowError(
            f"bad date {starts!r} in starts_at (expected ISO 8601)", kind="bad starts_at"
        ) from None
    if starts_at.tzinfo is None:
        raise RowError(
            f"bad date {starts!r} in starts_at: the UTC offset is missing", kind="bad starts_at"
        )
    return {
        "id": _id(row),
        "library_id": _reference(_required(row, "library_id"), run.libraries, "library"),
        "title": _required(row, "title"),
        "description": row.get("description", "").strip(),
        "starts_at": starts_at.astimezone(dt.UTC),
        "duration_min": _int(row, "duration_min", minimum=1),
        "capacity": _int(row, "capacity", minimum=1),
        "media_type": _media_type(row, optional=True),
    }


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)  # declarative models map to a Table (typed FromClause)
    return table


SPECS = (
    FileSpec("libraries.csv", _table(Library), ("id", "name"), _library),
    FileSpec("resources.csv", _table(Resource), ("id", "media_type", "name"), _resource, "name"),
    FileSpec(
        "items.csv", _table(Item), ("id", "resource_id", "media_type", "title"), _item, "title"
    ),
    FileSpec("faq.csv", _table(FaqEntry), ("id", "question", "answer"), _faq),
    FileSpec(
        "workshops.csv",
        _table(Workshop),
        ("id", "library_id", "title", "starts_at", "duration_min", "capacity"),
        _workshop,
    ),
)
MAX_ADDED_TITLES = 50


# --- writing ----------------------------------------------------------------------------


class Importer:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        self._revision = 0  # the version the rows written by this import carry

    async def run(
        self, directory: Path, *, strict: bool = False, progress: bool | None = None
    ) -> ImportReport:
        files = [(spec, directory / spec.name) for spec in SPECS]
        if not any(path.exists() for _, path in files):
            raise FileNotFoundError(f"{directory}: no {', '.join(s.name for s in SPECS)} here")
        if strict:
            checked = await self._pass(files, write=False, progress=progress)
            if checked.failed:
                checked.strict_failed = True
                return checked
        return await self._pass(files, write=True, progress=progress)

    async def _pass(
        self, files: list[tuple[FileSpec, Path]], *, write: bool, progress: bool | None
    ) -> ImportReport:
        """Reads every file; with ``write``, upserts the rows a batch per transaction."""
        report = ImportReport()
        async with self._engine.connect() as conn:
            run = ImportRun(
                libraries=set(await conn.scalars(select(Library.id))),
                resources=set(await conn.scalars(select(Resource.id))),
            )
            self._revision = await next_catalogue_revision(conn)
            await conn.commit()
            for spec, path in files:
                if path.exists():
                    file_report = await self._import_file(
                        conn, spec, path, run, report, progress if write else False, write
                    )
                    report.files.append(file_report)
            if write and report.changed:
                version = await bump_catalogue_version(conn, at_least=self._revision)
                if version != self._revision:  # someone else bumped it meanwhile
                    for table in (t for t in (s.table for s in SPECS) if t.name in REVISED_TABLES):
                        await conn.execute(
                            table.update()
                            .where(table.c.revision == self._revision)
                            .values(revision=version)
                        )
                await conn.commit()
        return report

    async def _import_file(
        self,
        conn: AsyncConnection,
        spec: FileSpec,
        path: Path,
        run: ImportRun,
        report: ImportReport,
        progress: bool | None,
        write: bool = True,
    ) -> FileReport:
        file_report = FileReport(spec.name)
        try:
            layout = inspect_csv(path, spec.columns)
        except CsvRejected as error:
            file_report.rejected_because = str(error)
            run.rejected_files.add(spec.name)
            report.errors.append(f"{spec.name}: rejected: {error}")
            return file_report
        except UnicodeDecodeError as error:  # a UTF-16 file that is not
            file_report.rejected_because = f"unreadable text ({error.reason})"
            run.rejected_files.add(spec.name)
            report.errors.append(f"{spec.name}: rejected: {file_report.rejected_because}")
            return file_report
        if layout.warning:
            report.warnings.append(f"{spec.name}: {layout.warning}")
        show = progress if progress is not None else None
        listed: Counter[str] = Counter()
        #: rows whose reference is in a file rejected whole, by that file
        cascaded: Counter[str] = Counter()
        bar = tqdm(
            total=layout.lines,
            desc=spec.name,
            unit=" rows",
            disable=(show is False) or layout.lines < PROGRESS_FROM_ROWS,
            leave=False,
        )
        batch: dict[str, dict[str, Any]] = {}
        try:
            for line, row in read_rows(path, layout):
                file_report.rows += 1
                bar.update()
                try:
                    values = spec.convert(row, run)
                except RowError as error:
                    file_report.rejected += 1
                    if error.refers_to in run.rejected_files:
                        cascaded[error.refers_to] += 1
                        continue
                    if listed[error.kind] < MAX_LISTED:
                        report.errors.append(f"{spec.name}:{line}: {error}")
                    listed[error.kind] += 1
                    continue
                batch[values["id"]] = values  # a later duplicate row wins
                if spec.name == "libraries.csv":
                    run.libraries.add(values["id"])
                elif spec.name == "resources.csv":
                    run.resources.add(values["id"])
                if len(batch) >= BATCH:
                    if write:
                        await self._flush(conn, spec, batch, file_report, report)
                    batch = {}
            if batch and write:
                await self._flush(conn, spec, batch, file_report, report)
        except UnicodeDecodeError as error:  # cannot happen after inspect_csv: kept as a guard
            file_report.rejected += 1
            report.errors.append(f"{spec.name}: unreadable text ({error.reason})")
        except csv.Error as error:
            file_report.rejected += 1
            report.errors.append(f"{spec.name}: unreadable CSV ({error})")
        finally:
            bar.close()
        for kind, rows in listed.items():
            if rows > MAX_LISTED:
                report.errors.append(
                    f"{spec.name}: {rows - MAX_LISTED:,} more rows rejected: {kind}"
                )
        for referenced, rows in cascaded.items():
            report.errors.append(
                f"{spec.name}: {rows:,} rows skipped: they refer to {referenced}, "
                "which was rejected"
            )
        return file_report

    async def _flush(
        self,
        conn: AsyncConnection,
        spec: FileSpec,
        batch: dict[str, dict[str, Any]],
        file_report: FileReport,
        report: ImportReport,
    ) -> None:
        table = spec.table
        compared = [c for c in next(iter(batch.values())) if c != "id"]
        existing: dict[str, tuple[Any, ...]] = {}
        result = await conn.execute(
            select(table.c.id, *(table.c[c] for c in compared)).where(table.c.id.in_(list(batch)))
        )
        for row in result:
            existing[row[0]] = tuple(row[1:])
        new_rows, changed_rows = [], []
        for row_id, values in batch.items():
            old = existing.get(row_id)
            if old is None:
                new_rows.append(values)
            elif old != tuple(values[c] for c in compared):
                changed_rows.append(values)
            else:
                file_report.unchanged += 1
        written_revision = ["revision"] if table.name in REVISED_TABLES else []
        if written_revision:
            for values in (*new_rows, *changed_rows):
                values["revision"] = self._revision
        if new_rows:
            await conn.execute(table.insert(), new_rows)
            file_report.imported += len(new_rows)
            if spec.title_column:
                for values in new_rows:
                    titles = report.added_titles.setdefault(values["media_type"], [])
                    if len(titles) < MAX_ADDED_TITLES:
                        titles.append(values[spec.title_column])
        if changed_rows:
            statement = self._insert(table)
            statement = statement.on_conflict_do_update(
                index_elements=[table.c.id],
                set_={c: statement.excluded[c] for c in [*compared, *written_revision]},
            )
            await conn.execute(statement, changed_rows)
            file_report.updated += len(changed_rows)
        await conn.commit()  # one batch, one short transaction
