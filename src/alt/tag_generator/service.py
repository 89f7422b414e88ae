"""The tag-generator service: what it serves today and what it does not do yet."""

from __future__ import annotations

from alt.config import Settings
from alt.platform.http_app import ServiceParts
from alt.platform.jobs import housekeeping

QUEUE = "tag-generator"


def parts(settings: Settings) -> ServiceParts:
    return ServiceParts(
        queues=[QUEUE],
        blueprints={f"{QUEUE}.housekeeping": housekeeping(QUEUE)},
        not_built=[
            "article tagging",
        ],
    )
