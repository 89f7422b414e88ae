"""The one outbound HTTP client for the internet, with the SSRF guard built in.

    async with EgressClient(settings) as client:
        result = await client.fetch(url, kind="feed", etag=etag, last_modified=last_modified)

- `check_url(url)` validates a URL before anything is resolved or sent (for clear errors at
  subscribe or OPML import); `fetch` runs it again on the URL and on every redirect target.
- Connections are checked when they are made: the name is resolved once, every address is
  checked against an explicit deny-list, and the client connects to the checked address.
- With `ALT_EGRESS_PROXY` set, that connection is a CONNECT tunnel through the proxy to the
  checked address, never a direct one; deploy/egress has proxy configs that refuse internal
  destinations on their own.
- Limits (`ALT_FETCH_*`, see `FetchLimits`): timeouts, a deadline and a decoded-body cap per
  kind, redirects, Content-Encoding depth, per-host and global concurrency, allowed ports and
  the operator's allowlist of private `host:port` pairs.
"""

from alt.platform.egress.addresses import denied_reason
from alt.platform.egress.client import EgressClient, FetchResult, Headers
from alt.platform.egress.errors import FetchError, Reason
from alt.platform.egress.limits import FetchLimits, Kind
from alt.platform.egress.network import Resolver, SystemResolver
from alt.platform.egress.urls import ParsedURL, check_url
from alt.platform.retry_after import parse_retry_after

__all__ = [
    "EgressClient",
    "FetchError",
    "FetchLimits",
    "FetchResult",
    "Headers",
    "Kind",
    "ParsedURL",
    "Reason",
    "Resolver",
    "SystemResolver",
    "check_url",
    "denied_reason",
    "parse_retry_after",
]
