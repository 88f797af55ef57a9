"""Handover: a patron's question passed to the librarians, taken by one, answered in a
thread until closed. Nothing here imports telegram."""
