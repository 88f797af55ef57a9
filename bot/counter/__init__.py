"""Platform usage statistics: COUNTER Release 5 / 5.1 reports and a plain CSV
(``python -m bot import-usage FILE...``)."""
