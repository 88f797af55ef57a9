"""Announcements: drafts, audiences, scheduling, the state machine of a broadcast, and the
desk that watches one being sent. Nothing here imports telegram."""
