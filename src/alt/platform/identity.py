"""Who the user is, for every service other than auth-service.

auth-service vouches for a logged-in user with a short-lived EdDSA JWT (`aud` = "alt",
`sub` = user id, `role`, `sid` = the session's public id, `csrf` = whether the request's CSRF
token was checked). Callers pass it in `X-Alt-User-Token`; this module verifies signature,
issuer, audience and expiry against auth-service's public keys (JWKS from `/v1/auth/keys`,
cached and fetched again for an unknown key id). Plain identity headers are never read.

    @router.get("/v1/things")
    async def things(user: User = Depends(current_user)) -> ...
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, Request

from alt.platform.errors import AltError
from alt.platform.logging import get_logger

log = get_logger(__name__)

USER_TOKEN_HEADER = "X-Alt-User-Token"  # noqa: S105 (a header name)
ISSUER = "auth-service"
AUDIENCE = "alt"
ALGORITHM = "EdDSA"
KEYS_PATH = "/v1/auth/keys"
LEEWAY_S = 5
MAX_TOKEN_LIFETIME_S = 900
KEYS_MAX_AGE_S = 300.0
KEYS_MIN_REFETCH_S = 5.0
"""An unknown key id makes the verifier ask auth-service again, at most this often."""

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    role: Literal["admin", "user"]
    session_id: uuid.UUID

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class IdentityError(Exception):
    """A user token that proves nothing."""


@dataclass
class KeySet:
    """auth-service's public keys, as last fetched."""

    keys: dict[str, Any] = field(default_factory=dict)
    fetched_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def fresh(self, max_age_s: float) -> bool:
        return time.monotonic() - self.fetched_at < max_age_s

    def load(self, jwks: dict[str, Any]) -> None:
        keys = {}
        for entry in jwks.get("keys", []):
            if entry.get("kty") == "OKP" and entry.get("crv") == "Ed25519" and entry.get("kid"):
                keys[entry["kid"]] = jwt.PyJWK(entry, algorithm=ALGORITHM).key
        self.keys = keys
        self.fetched_at = time.monotonic()


class UserTokenVerifier:
    def __init__(self, fetch_jwks: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        self._fetch = fetch_jwks
        self._keys = KeySet()

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or IdentityError."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise IdentityError(f"malformed: {exc}") from None
        if header.get("alg") != ALGORITHM or not isinstance(header.get("kid"), str):
            raise IdentityError("wrong algorithm or no key id")
        key = await self._key(header["kid"])
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=LEEWAY_S,
                options={"require": ["iss", "aud", "sub", "iat", "exp", "sid", "role"]},
            )
        except jwt.PyJWTError as exc:
            raise IdentityError(str(exc)) from None
        if claims["exp"] - claims["iat"] > MAX_TOKEN_LIFETIME_S:
            raise IdentityError("token lives too long")
        return claims

    async def _key(self, kid: str) -> Any:
        if kid in self._keys.keys and self._keys.fresh(KEYS_MAX_AGE_S):
            return self._keys.keys[kid]
        async with self._keys.lock:
            stale = not self._keys.fresh(KEYS_MAX_AGE_S)
            may_refetch = not self._keys.fresh(KEYS_MIN_REFETCH_S)
            if stale or (kid not in self._keys.keys and may_refetch):
                self._keys.load(await self._fetch())
        if kid not in self._keys.keys:
            raise IdentityError("unknown key id")
        return self._keys.keys[kid]


def _verifier(request: Request) -> UserTokenVerifier:
    state = request.app.state
    verifier: UserTokenVerifier | None = getattr(state, "user_token_verifier", None)
    if verifier is None:
        ctx = state.ctx

        async def fetch() -> dict[str, Any]:
            response = await ctx.services.get("auth-service", KEYS_PATH, timeout=5.0)
            response.raise_for_status()
            jwks: dict[str, Any] = response.json()
            return jwks

        verifier = UserTokenVerifier(fetch)
        state.user_token_verifier = verifier
    return verifier


def _unauthenticated() -> AltError:
    return AltError(401, "unauthenticated", "Log in to do this.")


def user_from_claims(claims: dict[str, Any]) -> User:
    role = claims["role"]
    if role not in ("admin", "user"):
        raise IdentityError("unknown role")
    try:
        return User(uuid.UUID(claims["sub"]), role, uuid.UUID(claims["sid"]))
    except (ValueError, TypeError, AttributeError):
        raise IdentityError("malformed subject") from None


async def current_user(request: Request) -> User:
    """The user the request acts for; 401 without a valid user token. A state-changing request
    also needs a token minted after a CSRF check (403 otherwise)."""
    token = request.headers.get(USER_TOKEN_HEADER)
    if not token:
        raise _unauthenticated()
    try:
        claims = await _verifier(request).verify(token)
        user = user_from_claims(claims)
    except IdentityError as exc:
        log.warning("user_token_rejected", reason=str(exc), path=request.url.path)
        raise _unauthenticated() from None
    except Exception as exc:
        log.error("user_token_keys_unavailable", error=type(exc).__name__)
        raise AltError(503, "unavailable", "Cannot check who you are right now.") from None
    if request.method.upper() not in _SAFE_METHODS and claims.get("csrf") is not True:
        raise AltError(403, "csrf_failed", "This request needs a valid CSRF token.")
    return user


async def require_admin(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.is_admin:
        raise AltError(403, "forbidden", "Only an admin may do this.")
    return user
