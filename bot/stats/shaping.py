"""The shapes of the figures (:class:`Figures` and its parts) and what turns query rows into
them: feedback bands, similar unanswered questions grouped, representative comments."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Final

from rapidfuzz import fuzz

from bot.stats.metrics import NONE_KEY
from bot.stats.period import Period
from bot.stats.rollups import survey_figures, workshop_summary

SIMILARITY: Final = 78


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _as_utc(moment: dt.datetime | str) -> dt.datetime:
    """SQLite hands back naive datetimes (or text, in raw SQL); they were stored as UTC."""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclass
class UnansweredGroup:
    """Unanswered questions that look alike: the most frequent wording and the others."""

    text: str
    count: int
    variants: list[str] = field(default_factory=list)


@dataclass
class WorkshopFigures:
    id: str
    title: str
    library_id: str
    starts_at: dt.datetime
    duration_min: int
    capacity: int
    media_type: str | None
    cancelled: bool
    status: str  # held / upcoming / cancelled
    registered: int
    waiting: int
    attended: int
    attendance_known: int
    ratings: int
    average_rating: float | None

    @property
    def participants(self) -> int:
        """Patrons marked present; the registered ones when attendance was not taken."""
        return self.attended if self.attendance_known else self.registered


@dataclass
class PlatformRow:
    resource_id: str
    name: str
    media_type: str
    month: dt.date
    metric: str
    value: int


@dataclass
class Figures:
    """Everything a report shows, for one period and optionally one library."""

    period: Period
    library_id: str | None
    generated_at: dt.datetime
    totals: dict[str, int]
    by_media: dict[str, dict[str, int]]
    by_library: dict[str, dict[str, int]]
    series: list[dict[str, Any]]  # {"start": date, "active": n, "questions": n, ...}
    active: dict[str, float]  # day_avg, week_avg, month_avg, total
    active_series: dict[str, list[tuple[dt.date, int]]]  # day / week / month
    top_resources: list[dict[str, Any]]
    subscribers: dict[str, int]  # topic -> current subscribers
    subscribers_by_library: dict[str, dict[str, int]]
    feedback: dict[str, Any]
    workshops: list[WorkshopFigures]
    unanswered: list[UnansweredGroup]
    comments: list[dict[str, Any]]
    library_names: dict[str, str]
    resource_names: dict[str, str]
    platform: list[PlatformRow] = field(default_factory=list)
    events_announced: int = 0
    previous: Figures | None = None

    @property
    def workshop_summary(self) -> dict[str, Any]:
        return workshop_summary(self.workshops)

    def platform_totals(self) -> dict[str, int]:
        """Each platform metric summed over resources and months."""
        totals: Counter[str] = Counter()
        for row in self.platform:
            totals[row.metric] += row.value
        return dict(totals)

    def platform_by_media(self) -> dict[str, dict[str, int]]:
        result: dict[str, Counter[str]] = defaultdict(Counter)
        for row in self.platform:
            result[row.media_type][row.metric] += row.value
        return {k: dict(v) for k, v in result.items()}

    def platform_by_resource(self) -> dict[str, dict[str, int]]:
        result: dict[str, Counter[str]] = defaultdict(Counter)
        for row in self.platform:
            result[row.resource_id][row.metric] += row.value
        return {k: dict(v) for k, v in result.items()}

    def survey(self) -> dict[str, dict[str, int]]:
        """The national survey's figures per library ('' = the whole network)."""
        return survey_figures(self)


_CHITCHAT: Final = frozenset(
    "bonjour bonsoir salut coucou hello hi hey merci thanks thank you ok okay oui non yes no "
    "aide help svp stp please au revoir bye top super cool bien parfait daccord accord "
    "start menu test a bientot bientot bonne journee soiree nuit".split()
)
_DATE_LIKE = re.compile(
    r"^[\d\s/.:hH\-–,]*(\d{1,2}\s*[hH:]\s*\d{0,2}|\d{1,4}[/.\-]\d{1,2}([/.\-]\d{1,4})?)"
    r"[\d\s/.:hH\-–,]*$"
)
_CALENDAR: Final = frozenset(
    "janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre "
    "lundi mardi mercredi jeudi vendredi samedi dimanche demain aujourdhui hier "
    "january february march april may june july august september october november "
    "december monday tuesday wednesday thursday friday saturday sunday tomorrow today "
    "h min er le a".split()
)
_WORDS = re.compile(r"[^\W\d_]+", re.UNICODE)


def is_patron_question(text: str) -> bool:
    """A real question: not a greeting, thanks, a date or time, nor lone punctuation."""
    stripped = text.strip()
    if not stripped or _DATE_LIKE.match(stripped):
        return False
    plain = unicodedata.normalize("NFKD", stripped.casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c)).replace("'", "")
    words = _WORDS.findall(plain)
    letters = sum(len(w) for w in words)
    if letters < 3:
        return False
    if all(w in _CHITCHAT for w in words):
        return False
    return not (any(ch.isdigit() for ch in plain) and all(w in _CALENDAR for w in words))


def _mean(points: list[tuple[dt.date, int]]) -> float:
    return sum(n for _, n in points) / len(points) if points else 0.0


def _band(kind: str, rating: int | None) -> str:
    """positive / neutral / negative, whatever the scale of the kind."""
    if rating is None:
        return "neutral"
    if kind == "vote":
        return "positive" if rating else "negative"
    if kind == "survey":
        return "positive" if rating >= 9 else "negative" if rating <= 6 else "neutral"
    return "positive" if rating >= 4 else "negative" if rating <= 2 else "neutral"


def shape_feedback(rows: list[Any]) -> dict[str, Any]:
    """Feedback figures from rows grouped by kind, library, media type and rating."""
    by_kind: dict[str, dict[str, Any]] = {}
    by_media: dict[str, dict[str, Any]] = defaultdict(lambda: _feedback_group())
    by_library: dict[str, dict[str, Any]] = defaultdict(lambda: _feedback_group())
    for row in rows:
        kind = row.kind
        entry = by_kind.setdefault(
            kind,
            {"count": 0, "rated": 0, "rating_sum": 0, "comments": 0, "distribution": Counter()},
        )
        entry["count"] += row.n
        entry["comments"] += int(row.comments or 0)
        if row.rating is not None:
            entry["rated"] += row.n
            entry["rating_sum"] += row.rating * row.n
            entry["distribution"][row.rating] += row.n
        for group in (
            by_media[row.media_type or NONE_KEY],
            by_library[row.library_id or NONE_KEY],
        ):
            group["count"] += row.n
            if kind == "vote" and row.rating is not None:
                group["up" if row.rating else "down"] += row.n
            elif kind in ("workshop", "free") and row.rating is not None:
                group["rated"] += row.n
                group["rating_sum"] += row.rating * row.n
    for entry in [*by_kind.values(), *by_media.values(), *by_library.values()]:
        rated = entry.get("rated", 0)
        entry["average"] = entry.pop("rating_sum") / rated if rated else None
    kinds = {
        kind: {**entry, "distribution": dict(sorted(entry["distribution"].items()))}
        for kind, entry in by_kind.items()
    }
    votes = kinds.get("vote", {}).get("distribution", {})
    up, down = votes.get(1, 0), votes.get(0, 0)
    survey = kinds.get("survey", {"count": 0, "distribution": {}})
    dist = survey["distribution"]
    answered = sum(dist.values())
    promoters = sum(n for score, n in dist.items() if score >= 9)
    detractors = sum(n for score, n in dist.items() if score <= 6)
    return {
        "by_kind": kinds,
        "votes": {"up": up, "down": down, "share_up": up / (up + down) if up + down else None},
        "survey": {
            "sent": survey["count"],
            "answered": answered,
            "average": survey.get("average"),
            "promoters": promoters,
            "passives": answered - promoters - detractors,
            "detractors": detractors,
            "nps": round(100 * (promoters - detractors) / answered) if answered else None,
        },
        "by_media": {k: dict(v) for k, v in by_media.items()},
        "by_library": {k: dict(v) for k, v in by_library.items()},
    }


def _feedback_group() -> dict[str, Any]:
    return {"count": 0, "up": 0, "down": 0, "rated": 0, "rating_sum": 0}


_SPACES = re.compile(r"\s+")


def group_similar(rows: list[tuple[str, str, int]]) -> list[UnansweredGroup]:
    """Greedy grouping of (normalised query, example wording, count), most frequent first."""
    groups: list[tuple[str, UnansweredGroup]] = []
    for query, example, count in sorted(rows, key=lambda r: (-r[2], r[0])):
        key = _SPACES.sub(" ", query.casefold()).strip()
        best: tuple[float, UnansweredGroup] | None = None
        for head, group in groups:
            score = _similarity(key, head)
            if score >= SIMILARITY and (best is None or score > best[0]):
                best = (score, group)
        if best is None:
            groups.append((key, UnansweredGroup(example.strip(), count)))
        else:
            best[1].count += count
            if len(best[1].variants) < 5 and example.strip() != best[1].text:
                best[1].variants.append(example.strip())
    result = [group for _, group in groups]
    result.sort(key=lambda g: (-g.count, g.text.casefold()))
    return result


def _similarity(a: str, b: str) -> float:
    score = fuzz.token_sort_ratio(a, b)
    if min(len(a.split()), len(b.split())) >= 3:
        score = max(score, fuzz.token_set_ratio(a, b) - 5)
    return float(score)


def pick_representative(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Recent comments, alternating positive, negative and neutral ones, no duplicates."""
    bands: dict[str, list[dict[str, Any]]] = {"positive": [], "negative": [], "neutral": []}
    seen: set[str] = set()
    for row in rows:
        key = _SPACES.sub(" ", row["comment"].casefold()).strip()
        if len(key) < 3 or key in seen:
            continue
        seen.add(key)
        bands[_band(row["kind"], row["rating"])].append(row)
    chosen: list[dict[str, Any]] = []
    while len(chosen) < limit and any(bands.values()):
        for band in ("positive", "negative", "neutral"):
            if bands[band] and len(chosen) < limit:
                chosen.append(bands[band].pop(0))
    return chosen
