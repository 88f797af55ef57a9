"""Labels, one home: what each media type, topic and role is called, in every context.

Each table is keyed by the values of ``storage.models`` (``MEDIA_TYPES``, ``ROLES``) and
holds message ids (``N_``): translate with ``t(TABLE[key])``. A context needs its own
wording ("Books and audiobooks" as a shelf, "e-books and audiobooks" inside a sentence), so
there is one table per context, all here, and ``tests/test_layout.py`` checks that each
covers every media type.
"""

from __future__ import annotations

from typing import Final

from bot.i18n import N_

MEDIA_EMOJI: Final = {
    "ebook": "📚",
    "press": "📰",
    "video": "🎬",
    "music": "🎵",
    "training": "🎓",
    "game": "🎮",
}
#: a shelf of the catalogue (/media, cards)
MEDIA_SHELVES: Final = {
    "ebook": N_("Books and audiobooks"),
    "press": N_("Press"),
    "video": N_("Films and series"),
    "music": N_("Music"),
    "training": N_("Courses"),
    "game": N_("Video games"),
}
#: inside a sentence or a table (the report, the statistics)
MEDIA_IN_TEXT: Final = {
    "ebook": N_("e-books and audiobooks"),
    "press": N_("online press"),
    "video": N_("films and video"),
    "music": N_("music"),
    "training": N_("self-training"),
    "game": N_("video games"),
}
#: a workshop's theme, in the staff's form (short: a button)
MEDIA_THEMES: Final = {
    "ebook": N_("e-books"),
    "press": N_("press"),
    "video": N_("films"),
    "music": N_("music"),
    "training": N_("self-training"),
    "game": N_("video games"),
}
#: the announcement topic of a media type's new titles (``media:<type>``)
MEDIA_TOPICS: Final = {
    "ebook": N_("New e-books and audiobooks"),
    "press": N_("New press titles"),
    "video": N_("New films"),
    "music": N_("New music"),
    "training": N_("New courses"),
    "game": N_("New video games"),
}
#: the heading of a new-titles draft announcement
NEW_TITLES_HEADINGS: Final = {
    "ebook": N_("📚 New e-books and audiobooks in the digital library"),
    "press": N_("📰 New press titles in the digital library"),
    "video": N_("🎬 New films in the digital library"),
    "music": N_("🎵 New music in the digital library"),
    "training": N_("🎓 New courses in the digital library"),
    "game": N_("🎮 New video games in the digital library"),
}
ROLE_NAMES: Final = {
    "patron": N_("patron"),
    "staff": N_("library staff"),
    "coordinator": N_("coordinator"),
    "admin": N_("administrator"),
}

#: every table keyed by media type (checked against ``storage.models.MEDIA_TYPES``)
MEDIA_TABLES: Final = (
    MEDIA_EMOJI,
    MEDIA_SHELVES,
    MEDIA_IN_TEXT,
    MEDIA_THEMES,
    MEDIA_TOPICS,
    NEW_TITLES_HEADINGS,
)
