"""A user's reader preferences: stored as a JSON object on the user, validated on the way in,
and always given out complete (defaults filled in) in the user's public form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from alt.platform.errors import AltError


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    locale: Literal["en", "ja"] | None = None
    """The UI's language; None: the browser's (Accept-Language)."""
    theme: Literal["system", "light", "dark"] = "system"
    mark_read_on_scroll: bool = False


def public_preferences(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """The stored preferences with defaults for what is missing (or no longer valid)."""
    try:
        return Preferences.model_validate(dict(stored or {})).model_dump()
    except ValidationError:
        return Preferences().model_dump()


def merged_preferences(
    stored: Mapping[str, Any] | None, change: Mapping[str, Any]
) -> dict[str, Any]:
    """`change` applied to the stored preferences; 422 when the result is not valid."""
    try:
        return Preferences.model_validate(public_preferences(stored) | dict(change)).model_dump()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "preferences"
        raise AltError(
            422, "validation_failed", f"The preference {field} is not valid: {first['msg']}."
        ) from None
