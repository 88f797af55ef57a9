"""The report as CSV (``;``, UTF-8 with BOM, for spreadsheets): the same data, flattened."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from bot.i18n import Translator
from bot.reporting.data import Branding, _cell, to_data
from bot.stats.shaping import Figures

# CSV ----------------------------------------------------------------------------------


def render_csv(figures: Figures, t: Translator, brand: Branding | None = None) -> bytes:
    """One row per figure: section, group, metric, value (the same numbers as the JSON)."""
    data = to_data(figures, t)
    rows: list[list[Any]] = [
        ["period", "", "from", data["period"]["from"]],
        ["period", "", "to", data["period"]["to"]],
        ["period", "", "library", figures.library_id or ""],
    ]
    rows += [
        ["key_figures", row["figure"], metric, _cell(row[metric])]
        for row in data["key_figures"]
        for metric in ("value", "previous", "difference", "change")
    ]
    rows += [["totals", "", metric, value] for metric, value in figures.totals.items()]
    for name, value in data["active_patrons"].items():
        if not isinstance(value, list):
            rows.append(["active_patrons", "", name, value])
    for section, groups in (("media_type", figures.by_media), ("library", figures.by_library)):
        for key, metrics in sorted(groups.items()):
            rows += [[section, key or "none", metric, value] for metric, value in metrics.items()]
    for point in data["series"]:
        rows += [["series", point["start"], m, v] for m, v in point.items() if m != "start"]
    rows += [["subscribers", k, "subscribers", v] for k, v in sorted(figures.subscribers.items())]
    for kind, entry in data["feedback"]["by_kind"].items():
        for metric in ("count", "rated", "average", "comments"):
            rows.append(["feedback", kind, metric, _cell(entry[metric])])
        rows += [["feedback", kind, f"rating_{r}", n] for r, n in entry["distribution"].items()]
    rows += [["feedback", "vote", m, _cell(v)] for m, v in data["feedback"]["votes"].items()]
    rows += [["feedback", "survey", m, _cell(v)] for m, v in data["feedback"]["survey"].items()]
    rows += [["workshops", "", m, _cell(v)] for m, v in figures.workshop_summary.items()]
    for w in data["workshops"]["list"]:
        for metric in ("status", "registered", "participants", "average_rating"):
            rows.append(["workshop", w["title"], metric, _cell(w[metric])])
    rows += [["unanswered", g.text, "count", g.count] for g in figures.unanswered]
    rows += [["card_views", r["title"], "views", r["views"]] for r in figures.top_resources]
    for p in data["platform_usage"]:
        rows.append(["platform_usage", f"{p['resource']} {p['month']}", p["metric"], p["value"]])
    for key, values in data["national_survey"].items():
        rows += [["national_survey", key, m, v] for m, v in values.items()]
    return csv_bytes(rows, ["section", "group", "metric", "value"])


def csv_bytes(rows: Sequence[dict[str, Any] | Sequence[Any]], header: Sequence[str]) -> bytes:
    """Rows as a CSV file Excel and LibreOffice open directly (BOM, ``;``), always with its
    header row, also when there is no row."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header] if isinstance(row, dict) else row)
    return ("\ufeff" + out.getvalue()).encode()
