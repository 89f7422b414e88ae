"""The UI's message catalogue: every string the templates and the UI's code mark for
translation has its Japanese text, and the language is chosen as a reader expects."""

from __future__ import annotations

import re
from collections import Counter
from importlib.resources import files
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from alt.frontend.ui.i18n import catalogue, negotiate

FRONTEND = Path(str(files("alt.frontend")))
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def marked_strings() -> set[str]:
    method_map = [("**/templates/**.html", "jinja2"), ("**/ui/**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = extract_from_dir(
        str(FRONTEND), method_map, options, keywords={"_": None, "gettext": (2,), "N_": None}
    )
    return {message for _, _, message, _, _ in found if isinstance(message, str)}


def test_every_marked_string_has_its_japanese_text() -> None:
    japanese = catalogue("ja")
    missing = sorted(m for m in marked_strings() if m not in japanese or not japanese[m].string)
    assert missing == []


def test_translations_keep_their_placeholders() -> None:
    for message in catalogue("ja"):
        if message.id:
            wanted = sorted(PLACEHOLDER.findall(str(message.id)))
            assert sorted(PLACEHOLDER.findall(str(message.string))) == wanted, message.id


def test_no_string_is_translated_in_two_files() -> None:
    seen: Counter[str] = Counter()
    for po in (FRONTEND / "locale" / "ja").glob("*.po"):
        with po.open("rb") as handle:
            seen.update(str(m.id) for m in read_po(handle) if m.id)
    assert [message for message, count in seen.items() if count > 1] == []


@pytest.mark.parametrize(
    ("preferred", "header", "chosen"),
    [
        (None, "ja-JP,ja;q=0.9,en;q=0.8", "ja"),
        (None, "en-GB,en;q=0.9,ja;q=0.8", "en"),
        (None, "fr-FR,ja;q=0.5", "ja"),
        (None, "ja;q=0,en", "en"),
        (None, "", "en"),
        (None, "garbage;;;,,", "en"),
        ("ja", "en-US", "ja"),
        ("en", "ja", "en"),
        ("xx", "ja", "ja"),
    ],
)
def test_the_language_is_the_profiles_else_the_browsers(
    preferred: str | None, header: str, chosen: str
) -> None:
    assert negotiate(preferred, header) == chosen
