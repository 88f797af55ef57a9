"""Production update path: the webhook listener, /healthz and /metrics, updates handled once
(dedupe on update_id in the database) and one chat at a time across instances.

Nothing here imports telegram: :mod:`bot.app` feeds updates in as dicts and callables.
"""
