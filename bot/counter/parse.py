"""Readers of the providers' usage reports, into (platform or resource, month, metric, value).

- COUNTER R5 / R5.1 tabular reports (TSV or CSV): the header block (``Report_Name``,
  ``Report_ID``, ``Release``, ``Institution_Name``, ``Institution_ID``, ``Metric_Types``,
  ``Report_Filters``, ``Report_Attributes``, ``Exceptions``, ``Reporting_Period``,
  ``Created``, ``Created_By``, and R5.1's ``Registry_Record``), a blank row, then the table
  with a ``Platform`` and a ``Metric_Type`` column and one column per month (``Jan-2025``
  or ``2025-01``). Reports PR, DR, TR, IR and their standard views (PR_P1, DR_D1, TR_B1...).
- COUNTER_SUSHI JSON: ``Report_Header`` and ``Report_Items``; R5's ``Performance`` list of
  ``Period``/``Instance`` and R5.1's ``Attribute_Performance`` → ``Performance`` mapping of
  metric → month → count, at any depth (IR nests items under their parent).
- A plain CSV ``resource_id,month,metric,value`` for providers without COUNTER.

A problem is a :class:`UsageFileError` carrying the line; nothing is returned from a file
with a problem, so nothing of it is imported.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

#: COUNTER metric types -> Plume's metrics (the others are not kept)
COUNTER_METRICS: Final = {
    "Searches_Platform": "searches",
    "Searches_Regular": "searches",
    "Total_Item_Requests": "item_requests",
    "Unique_Item_Requests": "unique_item_requests",
}
PLAIN_METRICS: Final = (
    "sessions",
    "searches",
    "item_requests",
    "unique_item_requests",
    "loans",
    "active_users",
)
FAMILIES: Final = ("PR", "DR", "TR", "IR")
HEADER_KEYS: Final = (
    "Report_Name",
    "Report_ID",
    "Release",
    "Institution_Name",
    "Institution_ID",
    "Metric_Types",
    "Report_Filters",
    "Report_Attributes",
    "Exceptions",
    "Reporting_Period",
    "Created",
    "Created_By",
)
_MONTHS = {
    m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)
}
_MONTH_COLUMN = re.compile(r"^(?:([A-Za-z]{3})-(\d{4})|(\d{4})-(\d{2}))$")


class UsageFileError(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


@dataclass
class UsageReport:
    """What one file says: values per (platform or resource id, month, metric)."""

    family: str  # PR / DR / TR / IR / CSV
    months: list[dt.date]  # the months the file covers (replaced on import)
    by_resource: bool  # keys are Plume resource ids (plain CSV), else platform names
    values: dict[tuple[str, dt.date, str], int] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # key -> first line it appears on


def month_of(text: str) -> dt.date | None:
    match = _MONTH_COLUMN.match(text.strip())
    if not match:
        return None
    if match.group(1):
        number = _MONTHS.get(match.group(1).casefold())
        if number is None:
            return None
        return dt.date(int(match.group(2)), number, 1)
    month = int(match.group(4))
    return dt.date(int(match.group(3)), month, 1) if 1 <= month <= 12 else None


def months_between(begin: dt.date, end: dt.date) -> list[dt.date]:
    months, month = [], begin.replace(day=1)
    while month <= end:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def _period(text: str, line: int) -> list[dt.date]:
    """``Begin_Date=2025-01-01; End_Date=2025-12-31`` -> the months."""
    found = dict(re.findall(r"(Begin_Date|End_Date)\s*=\s*(\d{4}-\d{2}(?:-\d{2})?)", text))
    if "Begin_Date" not in found or "End_Date" not in found:
        raise UsageFileError(line, f"Reporting_Period {text!r} lacks Begin_Date and End_Date")
    try:
        begin = dt.date.fromisoformat(found["Begin_Date"][:7] + "-01")
        end = dt.date.fromisoformat(found["End_Date"][:7] + "-01")
    except ValueError:
        raise UsageFileError(line, f"bad date in Reporting_Period {text!r}") from None
    if end < begin:
        raise UsageFileError(line, "Reporting_Period ends before it begins")
    return months_between(begin, end)


def _family(report_id: str, line: int) -> str:
    family = report_id.strip().upper().split("_")[0]
    if family not in FAMILIES:
        raise UsageFileError(line, f"unsupported report {report_id!r} (PR, DR, TR, IR and views)")
    return family


def _count(text: str, line: int) -> int:
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "")
    if cleaned == "":
        return 0
    if not cleaned.isdigit():
        raise UsageFileError(line, f"{text!r} is not a count")
    return int(cleaned)


def read_usage_file(path: Path) -> UsageReport:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageFileError(1, "not UTF-8 text") from None
    if text.lstrip().startswith("{") or text.lstrip().startswith("["):
        return _read_json(text)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first else ";" if first.count(";") > first.count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if rows and rows[0] and rows[0][0].strip() == "Report_Name":
        return _read_tabular(rows)
    if rows and [c.strip() for c in rows[0]][:4] == ["resource_id", "month", "metric", "value"]:
        return _read_plain(rows)
    raise UsageFileError(
        1,
        "neither a COUNTER report (first row Report_Name), a COUNTER_SUSHI JSON report, "
        "nor a CSV with the header resource_id,month,metric,value",
    )


def _read_tabular(rows: list[list[str]]) -> UsageReport:
    header: dict[str, tuple[str, int]] = {}
    index = 0
    while index < len(rows) and any(c.strip() for c in rows[index]):
        row = rows[index]
        header[row[0].strip()] = ((row[1] if len(row) > 1 else "").strip(), index + 1)
        index += 1
    for key in HEADER_KEYS:
        if key not in header:
            raise UsageFileError(index + 1, f"the header block lacks {key}")
    if index >= len(rows):
        raise UsageFileError(index + 1, "no blank row and table after the header block")
    family = _family(*header["Report_ID"])
    months = _period(*header["Reporting_Period"])
    index += 1  # the blank row
    if index >= len(rows):
        raise UsageFileError(index + 1, "the table is missing")
    columns = [c.strip() for c in rows[index]]
    head_line = index + 1
    for needed in ("Platform", "Metric_Type"):
        if needed not in columns:
            raise UsageFileError(head_line, f"the table has no {needed} column")
    platform_at, metric_at = columns.index("Platform"), columns.index("Metric_Type")
    month_columns = [(i, month_of(c)) for i, c in enumerate(columns) if month_of(c)]
    total_at = (
        columns.index("Reporting_Period_Total") if "Reporting_Period_Total" in columns else None
    )
    if not month_columns:
        if total_at is None or len(months) != 1:
            raise UsageFileError(head_line, "no monthly columns (Exclude_Monthly_Details?)")
        month_columns = [(total_at, months[0])]
    report = UsageReport(family, months, by_resource=False)
    for number, row in enumerate(rows[index + 1 :], start=head_line + 1):
        if not any(c.strip() for c in row):
            continue
        if len(row) < len(columns):
            raise UsageFileError(number, f"{len(row)} cells where the header has {len(columns)}")
        metric = COUNTER_METRICS.get(row[metric_at].strip())
        platform = row[platform_at].strip()
        if not platform:
            raise UsageFileError(number, "no platform")
        report.lines.setdefault(platform, number)
        values = [(month, _count(row[i], number)) for i, month in month_columns]
        if metric is None:
            continue
        for month, value in values:
            if month not in months:
                raise UsageFileError(number, f"{month:%Y-%m} is outside the Reporting_Period")
            cell = (platform, month, metric)
            report.values[cell] = report.values.get(cell, 0) + value
    return report


def _read_json(text: str) -> UsageReport:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageFileError(error.lineno, f"not valid JSON: {error.msg}") from None
    if isinstance(data, list):  # some services wrap the report in a list
        data = data[0] if len(data) == 1 else None
    if not isinstance(data, dict) or "Report_Header" not in data or "Report_Items" not in data:
        raise UsageFileError(1, "a COUNTER_SUSHI report has Report_Header and Report_Items")
    header = data["Report_Header"]
    report_id = str(header.get("Report_ID", ""))
    family = _family(report_id, _line_of(text, '"Report_ID"'))
    period = header.get("Reporting_Period")
    if isinstance(period, dict):
        months = months_between(
            _json_month(period.get("Begin_Date"), text), _json_month(period.get("End_Date"), text)
        )
    elif isinstance(period, str):
        months = _period(period, _line_of(text, '"Reporting_Period"'))
    else:
        filters = header.get("Report_Filters")
        pairs: dict[str, Any] = {}
        if isinstance(filters, list):
            pairs = {str(f.get("Name")): f.get("Value") for f in filters if isinstance(f, dict)}
        elif isinstance(filters, dict):
            pairs = filters
        if "Begin_Date" not in pairs or "End_Date" not in pairs:
            raise UsageFileError(_line_of(text, '"Report_Header"'), "no reporting period")
        months = months_between(
            _json_month(pairs["Begin_Date"], text), _json_month(pairs["End_Date"], text)
        )
    report = UsageReport(family, months, by_resource=False)
    totals: dict[tuple[str, dt.date, str], int] = defaultdict(int)

    def add(platform: str, month: dt.date, metric_type: str, count: Any) -> None:
        metric = COUNTER_METRICS.get(metric_type)
        if not isinstance(count, int) or count < 0:
            raise UsageFileError(_line_of(text, f'"{platform}"'), f"{count!r} is not a count")
        if metric is None:
            return
        if month not in months:
            raise UsageFileError(
                _line_of(text, f'"{platform}"'), f"{month:%Y-%m} is outside the reporting period"
            )
        totals[(platform, month, metric)] += count

    def walk(node: Any, platform: str | None) -> None:
        if isinstance(node, list):
            for child in node:
                walk(child, platform)
            return
        if not isinstance(node, dict):
            return
        if isinstance(node.get("Platform"), str) and node["Platform"].strip():
            platform = node["Platform"].strip()
            report.lines.setdefault(platform, _line_of(text, f'"{platform}"'))
        performance = node.get("Performance")
        if performance is not None and platform is None:
            raise UsageFileError(_line_of(text, '"Performance"'), "usage without a Platform")
        if isinstance(performance, list) and platform is not None:  # R5: [{Period, Instance}]
            for entry in performance:
                month = _json_month((entry.get("Period") or {}).get("Begin_Date"), text)
                for instance in entry.get("Instance") or []:
                    add(platform, month, str(instance.get("Metric_Type")), instance.get("Count"))
        elif isinstance(performance, dict) and platform is not None:  # R5.1: {Metric: {month: n}}
            for metric_type, by_month in performance.items():
                if not isinstance(by_month, dict):
                    continue
                for month_text, count in by_month.items():
                    begins = month_of(str(month_text)[:7])
                    if begins is None:
                        raise UsageFileError(
                            _line_of(text, str(month_text)), f"bad month {month_text!r}"
                        )
                    add(platform, begins, metric_type, count)
        for key, child in node.items():
            if key != "Performance" and isinstance(child, (list, dict)):
                walk(child, platform)

    walk(data["Report_Items"], None)
    report.values = dict(totals)
    return report


def _json_month(value: Any, text: str) -> dt.date:
    month = month_of(str(value or "")[:7])
    if month is None:
        raise UsageFileError(_line_of(text, str(value)), f"bad date {value!r}")
    return month


def _line_of(text: str, needle: str) -> int:
    at = text.find(needle)
    return 1 if at < 0 else text.count("\n", 0, at) + 1


def _read_plain(rows: list[list[str]]) -> UsageReport:
    report = UsageReport("CSV", [], by_resource=True)
    months: set[dt.date] = set()
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) < 4:
            raise UsageFileError(number, "expected resource_id,month,metric,value")
        resource, month_text, metric, value = (c.strip() for c in row[:4])
        month = month_of(month_text) if re.fullmatch(r"\d{4}-\d{2}", month_text) else None
        if month is None:
            raise UsageFileError(number, f"bad month {month_text!r} (expected YYYY-MM)")
        if metric not in PLAIN_METRICS:
            raise UsageFileError(
                number, f"unknown metric {metric!r} (one of {', '.join(PLAIN_METRICS)})"
            )
        if not resource:
            raise UsageFileError(number, "no resource_id")
        key = (resource, month, metric)
        if key in report.values:
            raise UsageFileError(number, f"{resource} {month_text} {metric} given twice")
        report.values[key] = _count(value, number)
        report.lines.setdefault(resource, number)
        months.add(month)
    report.months = sorted(months)
    return report
