"""A local stand-in for the Telegram Bot API, for tests, benchmarks and the sandbox.

``BotAPIStandin`` (server.py) is the server and the entry point of the chat API (chat.py);
``Faults`` (faults.py) turns on rate limits, blocked users and a flaky network.
"""

from .chat import ChatMessage, ChatUser, GroupChat, StandinTimeout
from .faults import SENDING_METHODS, Faults
from .markup import entities_to_html
from .records import DROPPED, RecordedCall
from .server import BotAPIStandin

__all__ = [
    "DROPPED",
    "SENDING_METHODS",
    "BotAPIStandin",
    "ChatMessage",
    "ChatUser",
    "Faults",
    "GroupChat",
    "RecordedCall",
    "StandinTimeout",
    "entities_to_html",
]
