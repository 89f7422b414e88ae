"""The services of the system: names, default ports, and what each one owns.

This table is the single place that says which services exist. `alt up`, `alt serve`,
the settings and the tests all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Database(StrEnum):
    APP = "app"
    AUTH = "auth"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int
    module: str
    """Module holding `create_app(settings)`."""
    database: Database | None
    db_role: str | None
    """Least-privilege PostgreSQL role the service switches to on every connection."""
    calls: tuple[str, ...]
    """Services this one calls; readiness checks that they are live."""
    public: bool = False
    """Public services face browsers and take no service token."""


SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        ServiceSpec(
            "auth-service", 8080, "alt.auth.service", Database.AUTH, "alt_auth_service", ()
        ),
        ServiceSpec(
            "alt-backend",
            9000,
            "alt.backend.service",
            Database.APP,
            "alt_backend",
            ("auth-service", "pre-processor"),
        ),
        ServiceSpec(
            "news-creator", 11434, "alt.news_creator.service", Database.APP, "alt_news_creator", ()
        ),
        ServiceSpec(
            "pre-processor",
            9200,
            "alt.preprocessor.service",
            Database.APP,
            "alt_pre_processor",
            ("news-creator",),
        ),
        ServiceSpec(
            "tag-generator",
            9400,
            "alt.tag_generator.service",
            Database.APP,
            "alt_tag_generator",
            (),
        ),
        ServiceSpec(
            "search-indexer",
            9300,
            "alt.search_indexer.service",
            Database.APP,
            "alt_search_indexer",
            (),
        ),
        ServiceSpec(
            "pre-processor-sidecar", 9210, "alt.inoreader.service", Database.APP, "alt_sidecar", ()
        ),
        ServiceSpec("auth-token-manager", 9220, "alt.token_manager.service", None, None, ()),
        ServiceSpec(
            "alt-frontend",
            3000,
            "alt.frontend.service",
            None,
            None,
            ("alt-backend", "auth-service"),
            public=True,
        ),
    )
}
"""In dependency order: a service appears after the services it calls."""
