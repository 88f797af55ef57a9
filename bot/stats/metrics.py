"""What the statistics count: the metrics, which recorded event feeds which, the series
drawn per month."""

from __future__ import annotations

from typing import Final

#: usage event kind -> the metric it counts
KIND_METRIC: Final = {
    "question": "questions",
    "card_view": "card_views",
    "registration": "registrations",
    "unregistration": "unregistrations",
    "attendance": "attendance",
    "broadcast_sent": "broadcasts_sent",
    "broadcast_reached": "broadcasts_reached",
    "subscription": "subscriptions",
    "unsubscription": "unsubscriptions",
}
METRICS: Final = (
    "active",
    "visits",
    "questions",
    "answered",
    "unanswered",
    "card_views",
    "registrations",
    "unregistrations",
    "attendance",
    "broadcasts_sent",
    "broadcasts_reached",
    "subscriptions",
    "unsubscriptions",
)
SERIES_METRICS: Final = ("questions", "answered", "card_views", "registrations")
NONE_KEY: Final = ""  # the group of events without a library or media type


def _zero() -> dict[str, int]:
    return dict.fromkeys(METRICS, 0)
