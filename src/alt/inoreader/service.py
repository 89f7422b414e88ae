"""The pre-processor-sidecar service: what it serves today and what it does not do yet."""

from __future__ import annotations

from alt.config import Settings
from alt.platform.http_app import ServiceParts
from alt.platform.jobs import housekeeping

QUEUE = "pre-processor-sidecar"


def parts(settings: Settings) -> ServiceParts:
    return ServiceParts(
        queues=[QUEUE],
        blueprints={f"{QUEUE}.housekeeping": housekeeping(QUEUE)},
        not_built=[
            "Inoreader subscription and stream sync",
        ],
    )
