"""UI strings in English and Japanese through one gettext message catalogue.

The Japanese catalogue is kept as several `.po` files under `frontend/locale/ja/` (one per area
of the UI, so that areas can be translated separately) and merged into one catalogue at start.
English is the source language: its strings are the message ids.
"""

from __future__ import annotations

import io
from functools import cache
from importlib.resources import files

from babel.core import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

DEFAULT_LOCALE = "en"
LOCALES = ("en", "ja")
LOCALE_NAMES = {"en": "English", "ja": "日本語"}


def catalogue(locale: str) -> Catalog:
    """Every `.po` file of `locale`, merged (one message id may appear in only one file)."""
    merged = Catalog(locale=locale)
    folder = files("alt.frontend").joinpath("locale", locale)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".po"):
            continue
        with entry.open("rb") as po:
            for message in read_po(po, locale=locale):
                if message.id and message.string:
                    merged[message.id] = message
    return merged


@cache
def translations(locale: str) -> NullTranslations:
    if locale == DEFAULT_LOCALE:
        return NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, catalogue(locale))
    buffer.seek(0)
    return Translations(buffer)


def negotiate(preferred: str | None, accept_language: str | None) -> str:
    """The profile's language when set, else the best of the browser's `Accept-Language`."""
    if preferred in LOCALES:
        return preferred
    for tag in _ranked(accept_language or ""):
        try:
            language = Locale.parse(tag, sep="-").language
        except (ValueError, UnknownLocaleError):
            continue
        if language in LOCALES:
            return language
    return DEFAULT_LOCALE


def _ranked(header: str) -> list[str]:
    """The language tags of an Accept-Language header, most wanted first (q=0 dropped)."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header[:512].split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and weight > 0:
            weighted.append((-weight, index, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]
