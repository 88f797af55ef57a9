"""The evaluation report ("document synthétique d'évaluation") over the statistics.

- :mod:`~bot.reporting.report`: :func:`~bot.reporting.report.build_report` (figures gathered
  in SQL, rendered in a thread) and ``python -m bot report``;
- :mod:`~bot.reporting.data`: labels, derived key figures, the comparison, ``to_data``
  (what every format reads);
- :mod:`~bot.reporting.charts` (with :mod:`~bot.reporting.svg`): the charts;
- one module per format: :mod:`~bot.reporting.as_html`, :mod:`~bot.reporting.as_pdf`
  (printed by :mod:`~bot.reporting.pdf`), :mod:`~bot.reporting.as_csv`,
  :mod:`~bot.reporting.as_json`, :mod:`~bot.reporting.as_survey`;
- :mod:`~bot.reporting.formats`: French and English numbers, percentages, dates.
"""
