"""The services handlers use, built and owned by bot.app (nothing here imports telegram)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.announcements.service import AnnouncementService
from bot.answering.semantic import load_encoder
from bot.answering.service import AnswerService
from bot.config import Settings
from bot.feedback.service import FeedbackService
from bot.handover.service import ANSWER_KIND, HandoverService, tell_staff_undelivered
from bot.libraries import LibraryService
from bot.outbox import OutboxStore
from bot.privacy.contact import ContactService
from bot.privacy.service import PrivacyService, RetentionPolicy
from bot.search import SearchService
from bot.stats.queries import StatsService
from bot.subscriptions.service import SubscriptionService
from bot.teach.service import TeachingService
from bot.throttle import Throttle
from bot.usage import UsageRecorder
from bot.users import UserService
from bot.workshops.reminders import ReminderQueue
from bot.workshops.service import WorkshopService
from storage.db import SessionFactory, create_engine, session_factory

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    users: UserService
    libraries: LibraryService
    throttle: Throttle
    outbox: OutboxStore
    usage: UsageRecorder
    feedback: FeedbackService
    search: SearchService
    answers: AnswerService
    handover: HandoverService
    reminders: ReminderQueue
    workshops: WorkshopService
    announcements: AnnouncementService
    subscriptions: SubscriptionService
    stats: StatsService
    teaching: TeachingService
    privacy: PrivacyService
    contact: ContactService

    @classmethod
    def create(cls, settings: Settings) -> Services:
        engine = create_engine(settings.database_url)
        sessions = session_factory(engine)
        usage = UsageRecorder(sessions, settings.tz, batch_every=settings.usage_batch_seconds)
        search = SearchService(sessions, index_dir=settings.search_index_path)
        users = UserService(sessions, settings.admins)
        reminders = ReminderQueue(sessions, settings.reminder_offsets, settings.feedback_delay)
        outbox = OutboxStore(sessions)
        outbox.on_settled("reminder", reminders.settle_from_outbox)
        outbox.on_settled(ANSWER_KIND, tell_staff_undelivered)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            users=users,
            libraries=LibraryService(sessions),
            throttle=Throttle(),
            outbox=outbox,
            usage=usage,
            feedback=FeedbackService(sessions),
            search=search,
            answers=AnswerService(sessions, search, usage, load_encoder()),
            handover=HandoverService(sessions, users),
            reminders=reminders,
            workshops=WorkshopService(sessions, reminders, settings.tz),
            announcements=AnnouncementService(sessions, settings.tz),
            subscriptions=SubscriptionService(sessions, usage),
            stats=StatsService(engine, settings.tz),
            teaching=TeachingService(sessions, search),
            privacy=PrivacyService(
                sessions,
                RetentionPolicy(
                    inactive_days=settings.retention_days,
                    question_text_days=settings.question_text_days,
                    registration_days=settings.registration_days,
                ),
                settings.tz,
            ),
            contact=ContactService(sessions),
        )

    async def close(self, settle_within: float = 5.0) -> None:
        # questions answered just before the stop: their logs are being written
        deadline = time.monotonic() + settle_within
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.answers.queued(), timeout=settle_within)
        # then what the usage batch holds is written at once (one try)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                self.usage.close(), timeout=max(0.1, deadline - time.monotonic())
            )
        await self.answers.responder.close()
        # a connection still checked out (work cancelled at a bound, rolling back) would be
        # left open by dispose(): given back first, within the same bound
        pool = self.engine.pool
        checked_out = getattr(pool, "checkedout", lambda: 0)
        until = max(deadline, time.monotonic() + 0.3)
        while checked_out() and time.monotonic() < until:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        if checked_out():
            log.warning("stopping: %d database connections still in use", checked_out())
        await self.engine.dispose()
