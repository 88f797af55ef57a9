"""Statistics: the figures of a period (questions, answers, workshops, announcements,
usage), read from the events and their daily roll-ups. Nothing here imports telegram."""
