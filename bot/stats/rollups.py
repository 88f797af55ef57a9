"""Figures derived from :class:`~bot.stats.shaping.Figures` once, for every reader (chat,
report, export): the workshops' summary, the national survey's table, the media keys in
order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.stats.metrics import _zero
from storage.models import MEDIA_TYPES

if TYPE_CHECKING:  # bot.stats.shaping reads these roll-ups: types only, no cycle
    from bot.stats.shaping import Figures, WorkshopFigures


def answer_rate(figures: Figures) -> float | None:
    """The share of patron questions that got an answer (None without questions)."""
    totals = figures.totals
    return totals["answered"] / totals["questions"] if totals["questions"] else None


def average_rating(
    figures: Figures, kinds: tuple[str, ...] = ("workshop", "free")
) -> float | None:
    """The mean of the 1-5 ratings of these kinds of feedback, weighted by their counts."""
    by_kind = figures.feedback["by_kind"]
    rated = [by_kind[k] for k in kinds if by_kind.get(k, {}).get("rated")]
    count = sum(k["rated"] for k in rated)
    return sum(k["average"] * k["rated"] for k in rated) / count if count else None


def workshop_summary(workshops: list[WorkshopFigures]) -> dict[str, Any]:
    held = [w for w in workshops if w.status == "held"]
    known = sum(w.attendance_known for w in held)
    attended = sum(w.attended for w in held)
    ratings = sum(w.ratings for w in held)
    rated = [(w.average_rating, w.ratings) for w in held if w.average_rating is not None]
    average = sum(mean * n for mean, n in rated) / ratings if ratings else None
    return {
        "held": len(held),
        "upcoming": sum(1 for w in workshops if w.status == "upcoming"),
        "cancelled": sum(1 for w in workshops if w.status == "cancelled"),
        "seats": sum(w.capacity for w in held),
        "registered": sum(w.registered for w in held),
        "attended": attended,
        "participants": sum(w.participants for w in held),
        "hours": sum(w.duration_min for w in held) / 60,
        "attendance_rate": attended / known if known else None,
        "ratings": ratings,
        "average_rating": average,
    }


#: the platform metric that counts as a "consultation" in the national survey
CONSULTATION_METRIC: Final = "item_requests"
SURVEY_FIELDS: Final = (
    "active_patrons",
    "training_sessions",
    "training_participants",
    "training_hours",
    "questions_answered",
    "chat_sessions",
    "platform_consultations",
    "events_announced",
    "registrations",
)


def survey_figures(figures: Figures) -> dict[str, dict[str, int]]:
    """Per library and for the whole network (key ''), in the survey's vocabulary."""
    libraries = sorted(
        {k for k in figures.by_library if k} | {w.library_id for w in figures.workshops}
    )
    result: dict[str, dict[str, int]] = {}
    for key in [*libraries, ""]:
        workshops = [w for w in figures.workshops if key in ("", w.library_id)]
        summary = workshop_summary(workshops)
        counts = figures.totals if key == "" else figures.by_library.get(key, _zero())
        result[key] = {
            "active_patrons": counts.get("active", 0),
            "training_sessions": summary["held"],
            "training_participants": summary["participants"],
            "training_hours": round(summary["hours"]),
            "questions_answered": counts.get("answered", 0),
            "chat_sessions": counts.get("visits", 0),
            # the providers report for the whole network, not per library
            "platform_consultations": (
                figures.platform_totals().get(CONSULTATION_METRIC, 0) if key == "" else 0
            ),
            "events_announced": figures.events_announced if key == "" else 0,
            "registrations": counts.get("registrations", 0),
        }
    return result


def media_keys(figures: Figures) -> list[str]:
    """Media types in the canonical order, then any other key seen (e.g. no media type)."""
    seen = set(figures.by_media) | {
        t.removeprefix("media:") for t in figures.subscribers if t.startswith("media:")
    }
    return [m for m in MEDIA_TYPES if m in seen] + sorted(seen - set(MEDIA_TYPES))


async def rebuild_rollups(engine: AsyncEngine, tz: ZoneInfo) -> None:
    """Kept for ``report --rebuild-rollups``: there are no roll-ups any more (every figure is
    computed from the events), so there is nothing to rebuild."""
    return
