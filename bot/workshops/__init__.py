"""Workshops: the service (registrations, waiting lists, attendance), the reminders
planned as rows and the sender that hands them to the outbox. Nothing here imports telegram."""
