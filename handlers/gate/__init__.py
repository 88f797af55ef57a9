"""Before and after every feature: the guard (private chats, valid buttons), the last
resort answers (unknown command, stale button, not text) and the error handler."""
