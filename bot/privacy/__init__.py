"""Privacy by design (RGPD): export, erasure, retention, masking, audit, the register.

* :mod:`bot.privacy.coverage` — what each table holds of a person and how export and erasure
  treat it, checked against the models' metadata;
* :mod:`bot.privacy.service` — ``/mes_donnees``, ``/oublier``, erasure on request, the daily
  retention run, the audit log;
* :mod:`bot.privacy.masking` — phone numbers, e-mail and postal addresses, card numbers
  masked in free text before it is stored or shown;
* :mod:`bot.privacy.register` — the processing-register entry, from the settings.

Nothing here imports telegram.
"""
