"""Telegram-free pieces shared by several features (one home each)."""
