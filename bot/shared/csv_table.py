"""Reading a CSV file as people make them: UTF-8 or Excel's Windows-1252, ``,`` or ``;``.

``inspect_csv(path, required)`` looks at the file once (a single pass over its bytes, which
also counts its lines) and returns its :class:`CsvLayout` (encoding, separator, header) or
raises :class:`CsvRejected` with the one reason the whole file cannot be read::

    layout = inspect_csv(path, required=("id", "name"))
    if layout.warning:
        print(f"{path.name}: {layout.warning}")
    for line, row in read_rows(path, layout):
        ...

Encodings: a byte order mark decides (UTF-8, UTF-16); otherwise the file is UTF-8 when all
of it decodes as UTF-8, else Windows-1252 (what Excel writes on a French Windows: Latin-1
plus ``€``, ``œ``, curly quotes), else Latin-1 (which decodes anything). The standard library
is enough for this closed set; a general detector (charset-normalizer) would guess among
dozens of code pages from short French samples, and guess wrong more often than this rule.

Separators: ``csv.Sniffer`` on the first lines, checked against the header: the separator
kept is the one that makes the required columns appear.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SEPARATORS = (",", ";", "\t")
CHUNK = 1 << 20
SAMPLE_LINES = 20
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
_ENCODING_NAMES = {"cp1252": "Windows-1252", "latin-1": "Latin-1 (ISO-8859-1)"}
_SEPARATOR_NAMES = {",": "','", ";": "';'", "\t": "tab"}


class CsvRejected(ValueError):
    """The whole file cannot be read; the message says why, for a person."""


@dataclass(frozen=True)
class CsvLayout:
    encoding: str  #: a Python codec name
    delimiter: str
    header: tuple[str, ...]  #: column names, stripped and lower-cased
    lines: int  #: newline count minus the header's: the data rows, multi-line fields aside
    warning: str | None = None  #: something a person should know (a guessed encoding)


def _scan(path: Path) -> tuple[str | None, int, bool]:
    """(encoding from a BOM, newline count, whether the whole file is valid UTF-8)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    newlines = 0
    utf8 = True
    bom_encoding = None
    with path.open("rb") as handle:
        first = True
        while chunk := handle.read(CHUNK):
            if first:
                first = False
                for bom, encoding, _name in _BOMS:
                    if chunk.startswith(bom):
                        bom_encoding = encoding
                if b"\x00" in chunk[:4096] and bom_encoding != "utf-16":
                    raise CsvRejected(_binary_reason(chunk))
            newlines += chunk.count(b"\n")
            if utf8 and bom_encoding is None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
        if utf8 and bom_encoding is None:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8 = False
    return bom_encoding, newlines, utf8


def _binary_reason(chunk: bytes) -> str:
    if chunk.startswith(b"PK\x03\x04"):
        return "this is a spreadsheet (.xlsx), not CSV text: save it as CSV"
    return "this is not a text file (it holds NUL bytes)"


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _sample(path: Path, encoding: str) -> list[str]:
    lines: list[str] = []
    with path.open(encoding=encoding, newline="") as handle:
        for line in handle:
            if line.strip():
                lines.append(line)
            if len(lines) >= SAMPLE_LINES:
                break
    return lines


def normalise_column(name: str) -> str:
    return name.strip().strip('"').strip().lstrip("\ufeff").lower()


def _header(line: str, delimiter: str) -> tuple[str, ...]:
    fields = next(csv.reader([line], delimiter=delimiter), [])
    return tuple(normalise_column(field) for field in fields)


def _delimiter(lines: list[str], required: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """The separator that makes the required columns appear (sniffed first), and the header."""
    candidates: list[str] = []
    with contextlib.suppress(csv.Error):
        candidates.append(csv.Sniffer().sniff("".join(lines), "".join(SEPARATORS)).delimiter)
    candidates += [s for s in SEPARATORS if s not in candidates]
    best: tuple[int, str, tuple[str, ...]] | None = None
    for delimiter in candidates:
        header = _header(lines[0], delimiter)
        found = sum(column in header for column in required)
        if found == len(required):
            return delimiter, header
        if best is None or found > best[0]:
            best = (found, delimiter, header)
    assert best is not None
    _, delimiter, header = best
    missing = [column for column in required if column not in header]
    raise CsvRejected(
        f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
        f"in the header {lines[0].strip()[:120]!r} (separators tried: "
        f"{', '.join(_SEPARATOR_NAMES[s] for s in candidates)})"
    )


def inspect_csv(path: Path, required: Sequence[str]) -> CsvLayout:
    """The file's encoding, separator and header, or CsvRejected saying why not."""
    bom_encoding, newlines, utf8 = _scan(path)
    warning = None
    if bom_encoding is not None:
        encoding = bom_encoding
    elif utf8:
        encoding = "utf-8"
    else:
        encoding = "cp1252" if _decodes(path, "cp1252") else "latin-1"
        warning = (
            f"not UTF-8: read as {_ENCODING_NAMES[encoding]} (as Excel saves CSV); "
            "check the accents, or save the file as 'CSV UTF-8'"
        )
    lines = _sample(path, encoding)
    if not lines:
        return CsvLayout(encoding, ",", (), 0, warning)
    delimiter, header = _delimiter(lines, required)
    return CsvLayout(encoding, delimiter, header, max(0, newlines - 1), warning)


def read_rows(path: Path, layout: CsvLayout) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row; the header is line 1. Blank lines are skipped."""
    if not layout.header:
        return
    with path.open(encoding=layout.encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=layout.delimiter)
        for fields in reader:  # the header (read by inspect_csv), after any blank lines
            if any(field.strip() for field in fields):
                break
        header = layout.header
        line = reader.line_num + 1
        for fields in reader:
            if any(field.strip() for field in fields):
                yield line, {k: v for k, v in zip(header, fields, strict=False) if k}
            line = reader.line_num + 1
