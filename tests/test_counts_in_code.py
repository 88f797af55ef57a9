"""Every count in a sentence goes through ngettext: the code is parsed (AST, f-strings
included) and a count pasted by hand into a sentence fails here.

What is refused, in ``bot/`` and ``handlers/``:

* a translated message (``t("...")``, ``N_("...")``) where a count's placeholder is followed
  by a word ("{count} subscribers", "{registered} registered out of {capacity}"): the word
  must agree with the number, so it is ``t.tn(singular, plural, count)``;
* a translator call inside an f-string, or an f-string given to a translator: Babel cannot
  extract either, so the message is never translated;
* an f-string, a ``+`` or a ``.format`` joining a count and translated words;
* a message written in a translator call that the catalogue does not hold: Babel skipped it
  (it attributes a ``t.tn(...)`` nested in a call to the outer call), so it would show in
  English whatever the language.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot.i18n import extract_messages

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*ROOT.glob("bot/**/*.py"), *ROOT.glob("handlers/**/*.py")])
TRANSLATORS = {"t", "st", "pt", "N_"}
#: placeholder or variable names that hold a number of things
COUNT_NAMES = re.compile(
    r"^(count|n|total|number|registered|waiting|sent|failed|reached|unreachable|missed|"
    r"subscribers|people|patrons|seats|capacity|recipients|rest|left|done|errors|"
    r"\w+_count|count_\w+|n_\w+)$"
)
PLACEHOLDER_THEN_WORD = re.compile(r"\{(\w+)(?:[:!][^}]*)?\}\s+[^\W\d_]", re.UNICODE)


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _is_translator_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _name(node.func) in TRANSLATORS | {"tn", "Np_"}


def _is_literal_translation(node: ast.AST) -> bool:
    """A translator call with its message written there (what Babel would extract)."""
    return (
        _is_translator_call(node)
        and isinstance(node, ast.Call)
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
    )


def _is_count(node: ast.AST) -> bool:
    """An expression that is a number of things: len(...), sum(...), or a count's name."""
    if isinstance(node, ast.Call) and _name(node.func) in ("len", "sum"):
        return True
    if isinstance(node, ast.Call) and _name(node.func) == "str" and node.args:
        return _is_count(node.args[0])
    name = _name(node)
    return name is not None and COUNT_NAMES.match(name) is not None


def _has_words(node: ast.JoinedStr) -> bool:
    return any(
        isinstance(part, ast.Constant) and re.search(r"[^\W\d_]{2,}", str(part.value))
        for part in node.values
    )


def problems_in(source: str, filename: str) -> list[str]:
    tree = ast.parse(source, filename)
    found: list[str] = []

    def report(node: ast.AST, why: str) -> None:
        found.append(f"{filename}:{getattr(node, 'lineno', '?')}: {why}")

    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = node.values
            for part in parts:
                if isinstance(part, ast.FormattedValue) and any(
                    _is_literal_translation(sub) for sub in ast.walk(part.value)
                ):
                    report(node, "a translator call inside an f-string is never extracted")
            padded = [*parts, None, None]
            for index, here in enumerate(parts):
                after, then = padded[index + 1], padded[index + 2]
                if not (isinstance(here, ast.FormattedValue) and _is_count(here.value)):
                    continue
                text = after.value if isinstance(after, ast.Constant) else None
                words_follow = isinstance(text, str) and re.match(r"\s+[^\W\d_]", text)
                translation_follows = (
                    isinstance(text, str)
                    and not text.strip()
                    and isinstance(then, ast.FormattedValue)
                    and _is_translator_call(then.value)
                )
                if (words_follow and any(_is_translator_call(v) for v in ast.walk(node))) or (
                    translation_follows
                ):
                    report(node, "a count and translated words joined in an f-string")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            sides = [node.left, node.right]
            if any(_is_translator_call(s) for s in sides) and any(_is_count(s) for s in sides):
                report(node, "a count concatenated to translated words")
        if not isinstance(node, ast.Call):
            continue
        if (
            isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
            and _is_translator_call(node.func.value)
            and any(_is_count(k.value) for k in node.keywords)
        ):
            report(node, "a count formatted into a translated message: use t.tn")
        if _name(node.func) not in TRANSLATORS or not node.args:
            continue
        first = node.args[0]
        if isinstance(first, ast.JoinedStr):
            report(node, "an f-string given to a translator cannot be extracted")
            continue
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        values = {k.arg: k.value for k in node.keywords if k.arg}
        for match in PLACEHOLDER_THEN_WORD.finditer(first.value):
            placeholder = match.group(1)
            value = values.get(placeholder)
            if value is None:
                counted = COUNT_NAMES.match(placeholder) is not None
            elif isinstance(value, ast.Call) and _name(value.func) not in ("len", "sum", "str"):
                counted = False  # a phrase rendered elsewhere (a t.tn, a formatted number)
            else:
                counted = _is_count(value) or COUNT_NAMES.match(placeholder) is not None
            if counted:
                report(node, f"{{{placeholder}}} is a count followed by words: use t.tn")
    return found


def messages_in(source: str, filename: str) -> list[tuple[int, str | tuple[str, str]]]:
    """The literal messages written in translator calls (what Babel must extract)."""
    found: list[tuple[int, str | tuple[str, str]]] = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        strings = [
            a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
        ]
        if (
            name in ("tn", "Np_")
            and len(strings) >= 2
            and len(node.args) >= 2
            and all(isinstance(a, ast.Constant) for a in node.args[:2])
        ):
            found.append((node.lineno, (strings[0], strings[1])))
        elif (
            name in TRANSLATORS
            and node.args
            and strings
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def test_no_count_is_pasted_by_hand():
    problems = [
        problem
        for path in SOURCES
        for problem in problems_in(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert problems == []


def test_every_message_written_is_extracted():
    catalogue = {message.id for message in extract_messages() if message.id}
    skipped = [
        f"{path.relative_to(ROOT)}:{line}: {message!r}"
        for path in SOURCES
        for line, message in messages_in(path.read_text(encoding="utf-8"), str(path))
        if message not in catalogue
    ]
    assert skipped == []


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ('t("{count} subscribers", count=len(people))', "is a count followed by words"),
        ('t("{registered} registered out of {capacity}", registered=v.registered)', "count"),
        ('t("{x} patrons reached", x=len(sent))', "is a count followed by words"),
        ("f\"{n} {t('subscribers')}\"", "inside an f-string"),
        ("f\"{t.tn('{count} seat', '{count} seats', n)}\"", "inside an f-string"),
        ('t(f"{n} subscribers")', "an f-string given to a translator"),
        ('str(len(rows)) + t(" rows")', "concatenated"),
        ('t("{count} rows").format(count=len(rows))', "formatted into"),
    ],
)
def test_the_checker_catches_counts_pasted_by_hand(code, why):
    problems = problems_in(code, "example.py")
    assert problems and any(why in p for p in problems), problems


@pytest.mark.parametrize(
    "code",
    [
        't.tn("{count} subscriber", "{count} subscribers", len(people))',
        't("Page {page} of {pages}", page=1, pages=2)',
        't("Question from {name}: {text}", name=n, text=x)',
        'f"{n}. {escape(name)}"',
        'log.info(f"{len(rows)} rows imported")',
    ],
)
def test_the_checker_lets_proper_counts_and_other_text_through(code):
    assert problems_in(code, "example.py") == []


def test_a_nested_count_phrase_babel_would_skip_is_seen():
    """``t("A: {x}", x=t.tn(...))``: Babel extracts the outer message only."""
    code = 't("Total: {x}", x=t.tn("{count} seat", "{count} seats", n))'
    messages = dict(messages_in(code, "example.py"))
    assert ("{count} seat", "{count} seats") in messages.values()
