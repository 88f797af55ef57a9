"""Statistics: the figures of a period (questions, answers, workshops, announcements,
usage), read from the recorded events. Nothing here imports telegram.

- :mod:`~bot.stats.period`: the period (local days), how it is named, its buckets;
- :mod:`~bot.stats.metrics`: what is counted and from which events;
- :mod:`~bot.stats.queries`: :class:`~bot.stats.queries.StatsService`, the SQL;
- :mod:`~bot.stats.shaping`: :class:`~bot.stats.shaping.Figures`, rows turned into figures;
- :mod:`~bot.stats.rollups`: what is derived from the figures once for every reader.
"""
