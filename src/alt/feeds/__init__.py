"""The feed domain as a pure library (no network, no database).

- ``parse``: RSS/Atom/JSON Feed bytes -> ``ParsedFeed`` (``parse_feed``, ``FeedParseError``)
- ``sanitize``: ``sanitize_html``, ``plain_text``, ``clean_text``, ``strip_invisible``
- ``autodiscovery``: ``discover_feed_links``, ``COMMON_FEED_PATHS``
- ``opml``: ``parse_opml``, ``render_opml``
- ``urls``: ``normalise_url``, ``is_http_url``
- ``xmlsafe``, ``dates``, ``xmlformats``, ``jsonfeed``: the parts ``parse`` is made of
"""
