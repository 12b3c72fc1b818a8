"""The English the library's messages need: "a company", "an organisation", "owner and name"."""

from __future__ import annotations

__all__ = ("article", "conjoin", "with_article")

_VOWELS = frozenset("aeiou")


def article(word: str) -> str:
    """``"a"`` or ``"an"`` before ``word`` (a model's name in lower case).

    The sound decides, and the spelling tells it well enough for model names: "an" before a
    vowel ("an organisation", "an invoice", "an update"), "a" before a consonant. A "u" followed
    by one consonant and a vowel is said "you" ("a user", "a unit", "a unique ...", "a union")
    where "u" before two consonants is not ("an umbrella", "an update"). Spelling alone gets
    some words wrong, and they are left so: "un" before a vowel ("a unable"), a silent "h"
    ("a hour"), "one" and "eu" ("an euro").
    """
    text = word.lower()
    if not text or text[0] not in _VOWELS:
        return "a"
    if text[0] == "u" and len(text) > 2 and text[1] not in _VOWELS and text[2] in _VOWELS:
        return "a"
    return "an"


def with_article(word: str) -> str:
    """``word`` after its article: ``"an organisation"``."""
    return f"{article(word)} {word}"


def conjoin(words: list[str]) -> str:
    """``words`` as a list in a sentence: ``"name"``, ``"owner and name"``, ``"a, b and c"``."""
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"
