"""The people one can be in the sandbox (a patron, a librarian, a coordinator...)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SandboxAccount:
    user_id: int
    label: str  # role shown in the account switcher, e.g. "Bibliothécaire"
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str = "fr"

    def to_json(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "label": self.label,
            "first_name": self.first_name,
            "language_code": self.language_code,
        }


def as_accounts(accounts: Iterable[Any]) -> list[SandboxAccount]:
    """Accepts ``SandboxAccount``s, mappings or any objects with ``user_id`` (or ``id``),
    ``label`` and ``first_name`` attributes."""
    result: list[SandboxAccount] = []
    for account in accounts:
        if isinstance(account, SandboxAccount):
            result.append(account)
            continue

        def read(name: str, default: Any = None, source: Any = account) -> Any:
            if isinstance(source, Mapping):
                return source.get(name, default)
            return getattr(source, name, default)

        user_id = read("user_id", read("id"))
        if user_id is None:
            raise ValueError(f"sandbox account without user_id: {account!r}")
        first_name = read("first_name") or read("label") or f"User {user_id}"
        result.append(
            SandboxAccount(
                user_id=int(user_id),
                label=str(read("label") or first_name),
                first_name=str(first_name),
                last_name=read("last_name"),
                username=read("username"),
                language_code=str(read("language_code") or "fr"),
            )
        )
    if not result:
        raise ValueError("the sandbox needs at least one account")
    return result
