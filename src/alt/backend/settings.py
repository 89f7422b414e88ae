"""alt-backend's own settings, apart from the shared ones."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator

from alt.platform.sections import section


class ImageProxySettings(BaseModel):
    """The key that signs the image URLs of article pages (`alt.backend.images`)."""

    model_config = section("ALT_IMAGE_PROXY_")

    key: SecretStr | None = None
    """Hex or base64url, 256 bits or more; unset: a key file made under the data directory.
    Replicas of alt-backend and the edge must share it."""

    @field_validator("key")
    @classmethod
    def _usable(cls, value: SecretStr | None) -> SecretStr | None:
        from alt.backend.images import ImageKeyError, parse_key

        if value is not None:
            try:
                parse_key(value.get_secret_value())
            except ImageKeyError:
                raise ValueError("not hex or base64url of 256 bits or more") from None
        return value


class StatsStreamSettings(BaseModel):
    """How often `/v1/sse/feeds/stats` speaks (`alt.backend.stats`)."""

    model_config = section("ALT_STATS_STREAM_")

    every_s: float = Field(default=5.0, ge=0.05, le=3600)
    """Seconds between two `stats` events."""
    heartbeat_s: float = Field(default=15.0, ge=0.05, le=3600)
    """Seconds between two heartbeat comments."""
    recount_s: float = Field(default=60.0, ge=0.05, le=3600)
    """Seconds between two recounts of the stats (feeds, articles, summarised) while no unread
    count moves; a moved count (a new article, a read mark) recounts them at once."""
