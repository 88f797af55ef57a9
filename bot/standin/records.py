"""The record of every Bot API call the stand-in received, for assertions and benchmarks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

DROPPED = 0  # status of a call whose connection the stand-in closed without an answer
ABANDONED = 499  # status of a call whose client hung up before the answer (nginx's convention)


@dataclass(slots=True)
class RecordedCall:
    """One request: ``status`` is the HTTP status answered (200, 400, 429, 502...; 0 = dropped)."""

    method: str
    params: dict[str, Any]
    chat_id: int | str | None
    at: float  # time.monotonic() when the request arrived
    files: dict[str, str] = field(default_factory=dict)  # field name -> uploaded file name
    status: int = 200
    description: str | None = None
    retry_after: int | None = None
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def outcome(self) -> str:
        if self.status == DROPPED:
            return "dropped"
        if self.status == ABANDONED:
            return "abandoned by the client"
        return "ok" if self.ok else f"{self.status} {self.description}"


class CallLog:
    """All recorded calls in arrival order, with query helpers."""

    def __init__(self) -> None:
        self._calls: list[RecordedCall] = []

    def add(self, call: RecordedCall) -> None:
        self._calls.append(call)

    def clear(self) -> None:
        self._calls.clear()

    def __iter__(self) -> Iterator[RecordedCall]:
        return iter(list(self._calls))

    def __len__(self) -> int:
        return len(self._calls)

    def __getitem__(self, index: int) -> RecordedCall:
        return self._calls[index]

    def calls_for(
        self,
        method: str | None = None,
        *,
        chat_id: int | str | None = None,
        status: int | None = None,
    ) -> list[RecordedCall]:
        """Calls of ``method`` (any if None), optionally to ``chat_id`` and/or with ``status``."""
        return [
            call
            for call in self._calls
            if (method is None or call.method == method)
            and (chat_id is None or call.chat_id == chat_id)
            and (status is None or call.status == status)
        ]

    def count(self, method: str | None = None, *, status: int | None = None) -> int:
        return len(self.calls_for(method, status=status))

    def status_counts(self, method: str | None = None) -> Counter[int]:
        return Counter(call.status for call in self.calls_for(method))

    def failures(self) -> list[RecordedCall]:
        """Calls answered with an error or dropped (long polls the client abandoned aside)."""
        return [call for call in self._calls if call.status not in (200, ABANDONED)]

    def methods(self) -> list[str]:
        """Method names in call order, getUpdates excluded (handy in assertion messages)."""
        return [call.method for call in self._calls if call.method != "getUpdates"]
