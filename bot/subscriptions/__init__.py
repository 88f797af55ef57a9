"""Subscriptions: the announcement topics a patron follows."""
