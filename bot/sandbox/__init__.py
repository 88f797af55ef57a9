"""The sandbox: a Telegram-like web chat to try the bot locally against the stand-in."""

from .accounts import SandboxAccount, as_accounts
from .serve import SandboxServer, serve_sandbox
from .web import create_sandbox_web_app

__all__ = [
    "SandboxAccount",
    "SandboxServer",
    "as_accounts",
    "create_sandbox_web_app",
    "serve_sandbox",
]
