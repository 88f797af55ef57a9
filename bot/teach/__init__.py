"""Staff teach Plume new questions (see ``bot.teach.service``)."""
