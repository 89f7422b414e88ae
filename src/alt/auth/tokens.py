"""Random bearer secrets and the CSRF tokens derived from them.

Every secret comes from `secrets` (256 bits); only hashes of bearer tokens are stored; every
comparison of a secret with what a client sent uses `hmac.compare_digest`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


def new_token() -> str:
    """An opaque 256-bit bearer token (URL-safe, 43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_secret() -> bytes:
    return secrets.token_bytes(TOKEN_BYTES)


def is_token_shaped(value: str | None) -> bool:
    return value is not None and _TOKEN_SHAPE.fullmatch(value) is not None


def token_hash(token: str) -> bytes:
    """What the database stores for a bearer token: a copy of the table is no use as cookies."""
    return hashlib.sha256(token.encode()).digest()


def csrf_token(secret: bytes, bound_to: bytes, purpose: str) -> str:
    """The synchronizer token of a session (or pre-session): HMAC of its id under its own
    secret, so it is worthless for any other session."""
    mac = hmac.new(secret, purpose.encode() + b"\0" + bound_to, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def same_secret(expected: str, supplied: str | None) -> bool:
    if supplied is None:
        return False
    return hmac.compare_digest(expected.encode(), supplied.encode())
