"""Personal details typed into free text are masked before anything is stored or shown.

Patrons write their phone number, e-mail or postal address, their library card or bank card
number into a question ("je suis au 06 12 34 56 78", "ma carte 29000001234567 ne marche
pas"). None of it helps to answer or to improve the FAQ, and all of it would reach the
question log, the librarians and the evaluation report. :func:`mask` replaces each with a
bracketed label: ``[téléphone]``, ``[e-mail]``, ``[adresse]``, ``[numéro]``.

The rules are deliberately wide (a false mask costs a word of a question; a miss leaks a
person's details): any run of 8 or more digits (spaces, dots, dashes allowed between them) is
a number; a number followed by a street word (rue, avenue, chemin…) is an address, and so is
a five-digit postcode followed by a capitalised commune.
"""

from __future__ import annotations

import re
from typing import Final

PHONE: Final = "[téléphone]"
EMAIL: Final = "[e-mail]"
ADDRESS: Final = "[adresse]"
NUMBER: Final = "[numéro]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# French numbers (0X XX XX XX XX, +33 X XX…, 0033…) and international ones (+NN …)
_PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)\d{1,3}[\s.\-]?(?:\(0\)[\s.\-]?)?\d(?:[\s.\-]?\d{2}){4}"
    r"|0\d(?:[\s.\-]?\d{2}){4})(?!\d)"
)
# library cards, bank cards, any long identifier: 8+ digits, separators allowed
_LONG_NUMBER = re.compile(r"(?<!\w)\d(?:[\s.\-]?\d){7,}(?!\w)")
_STREET_WORDS = (
    r"rue|avenue|av\.?|boulevard|bd|bld|chemin|impasse|allée|allee|place|route|quai|cours|"
    r"square|résidence|residence|lotissement|lieu[- ]dit|hameau|faubourg|passage|voie|"
    r"street|road|lane"
)
_STREET = re.compile(
    rf"(?<!\w)\d{{1,4}}\s*(?:bis|ter|b)?\s*,?\s*(?:{_STREET_WORDS})\b"
    r"(?:\s+(?:de\s+la|de\s+l'|du|des|de|d'|la|le|les|l'))?"
    r"(?:\s*[\w'\-]+){1,4}",
    re.IGNORECASE | re.UNICODE,
)
_POSTCODE_TOWN = re.compile(r"(?<!\d)\d{5}\s+[A-ZÉÈÀÂÎÔÛÇ][\w'\-]+(?:[\s\-][A-ZÉÈ][\w'\-]+)*")


def mask(text: str) -> str:
    """``text`` with phone numbers, e-mail and postal addresses and long numbers masked."""
    if not text:
        return text
    text = _EMAIL.sub(EMAIL, text)
    text = _PHONE.sub(PHONE, text)
    text = _STREET.sub(ADDRESS, text)
    text = _POSTCODE_TOWN.sub(ADDRESS, text)
    return _LONG_NUMBER.sub(NUMBER, text)


def mask_optional(text: str | None) -> str | None:
    return None if text is None else mask(text)
