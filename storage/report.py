"""Tables of the statistics and the evaluation report (issue 11).

``usage_actors`` is the only link between a person and their usage events: each person
gets a random ``actor`` number the first time they do something counted. Erasing a person
deletes their row here (``ON DELETE CASCADE`` with the user, or explicitly): the events
keep their actor number, so no past figure changes, and nothing links them to anyone.

``platform_usage`` holds the consultation figures the providers report (COUNTER Release 5
/ 5.1 reports, or a plain CSV), per Plume resource, month and metric. ``report`` is the
family of the source report (``PR``, ``DR``, ``TR``, ``IR``, ``CSV``): a corrected report
of one family replaces the months it covers for that family only, and the figures take
each (resource, month, metric) from the most aggregated family that gave it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, UtcDateTime, utcnow


class UsageActor(Base):
    __tablename__ = "usage_actors"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    actor: Mapped[int] = mapped_column(BigInteger, unique=True)


class PlatformUsage(Base):
    __tablename__ = "platform_usage"

    resource_id: Mapped[str] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # first day of the month
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    report: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(300), default="")  # file name it came from
    imported_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
