"""The keys that sign user tokens, and the tokens themselves.

Keys are Ed25519 pairs in `signing_keys`, shared by every replica. When the newest key is older
than ALT_AUTH_SIGNING_KEY_MAX_AGE a new one is added (under an advisory lock, so replicas rotate
once). A new key is published at once but signs only once it has been public for
PUBLISH_DELAY_S; then the keys before it are retired. Retired keys stay published until every
token they signed has expired, so verifiers never meet a valid token with a key they cannot
learn.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from psycopg import AsyncConnection

from alt.auth.sessions import Session
from alt.auth.settings import AuthSettings
from alt.platform.identity import ALGORITHM, AUDIENCE, ISSUER, KEYS_MIN_REFETCH_S

ROTATION_LOCK = 0x616C745F6B6579  # "alt_key"
CACHE_S = 30.0
PUBLISH_MARGIN_S = 60
PUBLISH_DELAY_S = 2 * KEYS_MIN_REFETCH_S
"""A new key is published this long before it signs, so that verifiers that fetched the key set
just before it appeared may fetch again when they first meet it."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey


class UserTokenSigner:
    def __init__(self, cfg: AuthSettings) -> None:
        self._cfg = cfg
        self._cached: SigningKey | None = None
        self._cached_at = float("-inf")

    async def issue(
        self, conn: AsyncConnection[Any], session: Session, *, csrf_checked: bool
    ) -> tuple[str, int]:
        """A user token for this session; returns it and its expiry (epoch seconds)."""
        key = await self._current(conn)
        now = int(time.time())
        expires = now + self._cfg.user_token_ttl_s
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(session.account.id),
            "role": session.account.role,
            "sid": str(session.public_id),
            "csrf": csrf_checked,
            "iat": now,
            "exp": expires,
            "jti": secrets.token_urlsafe(16),
        }
        token = jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid})
        return token, expires

    async def current_kid(self, conn: AsyncConnection[Any]) -> str:
        return (await self._current(conn)).kid

    async def jwks(self, conn: AsyncConnection[Any]) -> dict[str, Any]:
        await self._current(conn)
        cursor = await conn.execute(
            "SELECT kid, public_key FROM signing_keys WHERE algorithm = %s AND (retired_at IS NULL"
            " OR retired_at > now() - %s * interval '1 second') ORDER BY created_at DESC",
            (ALGORITHM, self._cfg.user_token_ttl_s + PUBLISH_MARGIN_S),
        )
        return {"keys": [_jwk(row["kid"], row["public_key"]) for row in await cursor.fetchall()]}

    async def rotate(self, conn: AsyncConnection[Any]) -> str:
        """Add a new key now; it signs once it has been published for PUBLISH_DELAY_S.
        Returns the new key id."""
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (ROTATION_LOCK,))
            kid = await self._insert_key(conn)
        self._cached_at = float("-inf")
        return kid

    async def _current(self, conn: AsyncConnection[Any]) -> SigningKey:
        if self._cached is not None and time.monotonic() - self._cached_at < CACHE_S:
            return self._cached
        keys = await self._live_keys(conn)
        if not keys or keys[0]["age"] > self._cfg.signing_key_max_age_s:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (ROTATION_LOCK,))
                keys = await self._live_keys(conn)
                if not keys or keys[0]["age"] > self._cfg.signing_key_max_age_s:
                    await self._insert_key(conn)
                    keys = await self._live_keys(conn)
        chosen = next((k for k in keys if k["age"] >= PUBLISH_DELAY_S), keys[-1])
        await conn.execute(
            "UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL"
            " AND created_at < %s",
            (chosen["created_at"],),
        )
        key = SigningKey(chosen["kid"], self._load_private(bytes(chosen["private_key"])))
        self._cached, self._cached_at = key, time.monotonic()
        return key

    async def _live_keys(self, conn: AsyncConnection[Any]) -> list[dict[str, Any]]:
        """Unretired keys, newest first, with their age in seconds."""
        cursor = await conn.execute(
            "SELECT kid, private_key, created_at,"
            " extract(epoch FROM now() - created_at) AS age FROM signing_keys"
            " WHERE retired_at IS NULL AND algorithm = %s ORDER BY created_at DESC",
            (ALGORITHM,),
        )
        return list(await cursor.fetchall())

    async def _insert_key(self, conn: AsyncConnection[Any]) -> str:
        private = Ed25519PrivateKey.generate()
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        kid = secrets.token_urlsafe(12)
        await conn.execute(
            "INSERT INTO signing_keys (kid, algorithm, public_key, private_key)"
            " VALUES (%s, %s, %s, %s)",
            (kid, ALGORITHM, public_pem.decode(), self._dump_private(private)),
        )
        return kid

    def _encryption_secret(self) -> bytes | None:
        secret = self._cfg.key_encryption_secret
        return secret.get_secret_value().encode() if secret else None

    def _dump_private(self, key: Ed25519PrivateKey) -> bytes:
        secret = self._encryption_secret()
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(secret)
            if secret
            else serialization.NoEncryption()
        )
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def _load_private(self, pem: bytes) -> Ed25519PrivateKey:
        key = serialization.load_pem_private_key(pem, password=self._encryption_secret())
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("a user-token signing key is not Ed25519")
        return key


def _jwk(kid: str, public_pem: str) -> dict[str, str]:
    key = serialization.load_pem_public_key(public_pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"signing key {kid} is not Ed25519")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": ALGORITHM, "use": "sig"}
