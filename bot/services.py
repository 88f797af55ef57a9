"""The services handlers use, built and owned by bot.app (nothing here imports telegram)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.libraries import LibraryService
from bot.users import UserService
from storage.db import SessionFactory, create_engine, session_factory


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    users: UserService
    libraries: LibraryService

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
        )

    async def close(self) -> None:
        await self.engine.dispose()
