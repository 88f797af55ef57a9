"""Which announcements each patron asked for.

A subscription is one ``subscriptions`` row per (user, topic). Topics: ``media:<type>`` (new
resources and titles of that media type), ``events`` (events of the patron's own library)
and ``news`` (the network's general news). Nobody is subscribed to anything until they say
so: nothing is sent to someone who did not opt in.
"""

from __future__ import annotations

import logging
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bot.i18n import N_
from bot.shared.labels import MEDIA_TOPICS
from bot.usage import SUBSCRIPTION, UNSUBSCRIPTION, UsageRecorder
from storage.db import SessionFactory, affected
from storage.models import MEDIA_TYPES, Subscription

log = logging.getLogger(__name__)

MEDIA_PREFIX: Final = "media:"
EVENTS: Final = "events"
NEWS: Final = "news"
TOPICS: Final = (*(f"{MEDIA_PREFIX}{m}" for m in MEDIA_TYPES), EVENTS, NEWS)

#: how each topic is named to patrons (translated where shown)
TOPIC_NAMES: Final = {
    **{f"{MEDIA_PREFIX}{media}": name for media, name in MEDIA_TOPICS.items()},
    EVENTS: N_("Events of my library"),
    NEWS: N_("General news of the network"),
}


def is_topic(topic: str) -> bool:
    return topic in TOPICS


def media_topic(media_type: str) -> str:
    return f"{MEDIA_PREFIX}{media_type}"


class SubscriptionService:
    def __init__(self, sessions: SessionFactory, usage: UsageRecorder | None = None) -> None:
        self._sessions = sessions
        self._usage = usage

    async def topics_of(self, user_id: int) -> set[str]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Subscription.topic).where(Subscription.user_id == user_id)
            )
            return {topic for topic in rows if topic in TOPICS}

    async def subscribe(self, user_id: int, topic: str, *, library_id: str | None = None) -> bool:
        """True when the subscription is new."""
        if not is_topic(topic):
            raise ValueError(f"unknown topic {topic!r}")
        try:
            async with self._sessions.begin() as session:
                exists = await session.scalar(
                    select(Subscription.id).where(
                        Subscription.user_id == user_id, Subscription.topic == topic
                    )
                )
                if exists is not None:
                    return False
                session.add(Subscription(user_id=user_id, topic=topic))
        except IntegrityError:  # a double tap raced us: it is there anyway
            return False
        await self._record(SUBSCRIPTION, user_id, topic, library_id)
        return True

    async def unsubscribe(
        self, user_id: int, topic: str, *, library_id: str | None = None
    ) -> bool:
        """True when there was such a subscription."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(Subscription).where(
                    Subscription.user_id == user_id, Subscription.topic == topic
                )
            )
            removed = bool(affected(result))
        if removed:
            await self._record(UNSUBSCRIPTION, user_id, topic, library_id)
        return removed

    async def toggle(self, user_id: int, topic: str, *, library_id: str | None = None) -> bool:
        """Flips one topic; True when the patron is now subscribed."""
        if await self.unsubscribe(user_id, topic, library_id=library_id):
            return False
        await self.subscribe(user_id, topic, library_id=library_id)
        return True

    async def _record(self, kind: str, user_id: int, topic: str, library_id: str | None) -> None:
        if self._usage is None:
            return
        media = topic.removeprefix(MEDIA_PREFIX) if topic.startswith(MEDIA_PREFIX) else None
        await self._usage.record(
            kind,
            user_id=user_id,
            library_id=library_id,
            media_type=media,
            subject_id=None if media else topic,
        )
