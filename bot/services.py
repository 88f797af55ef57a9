"""The services handlers use, built and owned by bot.app (nothing here imports telegram)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.feedback import FeedbackService
from bot.libraries import LibraryService
from bot.throttle import Throttle
from bot.usage import UsageRecorder
from bot.users import UserService
from storage.db import SessionFactory, create_engine, session_factory


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    users: UserService
    libraries: LibraryService
    throttle: Throttle
    usage: UsageRecorder
    feedback: FeedbackService

    @classmethod
    def create(cls, settings: Settings) -> Services:
        engine = create_engine(settings.database_url)
        sessions = session_factory(engine)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            users=UserService(sessions, settings.admins),
            libraries=LibraryService(sessions),
            throttle=Throttle(),
            usage=UsageRecorder(sessions),
            feedback=FeedbackService(sessions),
        )

    async def close(self) -> None:
        await self.engine.dispose()
