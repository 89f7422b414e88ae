"""Identity in a second service: alt-backend, built by the common factory with a throwaway
router that uses `current_user` / `require_admin`, accepts a user only through auth-service's
signed user token (forged, expired, other-audience, other-issuer, unsigned and plain-header
identities are refused), also after key rotation; and deleting a user reaches alt-backend."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, Depends, Request, Response
from psycopg.rows import dict_row

from alt.auth.settings import AuthSettings
from alt.auth.signing import PUBLISH_DELAY_S, UserTokenSigner
from alt.config import Settings
from alt.platform.http_app import ServiceParts, create_app
from alt.platform.identity import (
    KEYS_MIN_REFETCH_S,
    USER_TOKEN_HEADER,
    User,
    UserTokenVerifier,
    current_user,
    require_admin,
)
from alt.services import SERVICES
from tests.auth.conftest import ADMIN_EMAIL, Browser, Stack
from tests.helpers import serving
from tests.support.waiting import until

CurrentUser = Annotated[User, Depends(current_user)]
Admin = Annotated[User, Depends(require_admin)]


@pytest.fixture(scope="module")
def auth_env() -> dict[str, str]:
    return {"ALT_AUTH_PURGE_RETRY_S": "1"}


class Backend:
    """alt-backend with test routes; records the user deletions it is asked for."""

    def __init__(self, settings: Settings) -> None:
        self.purged: list[tuple[str, str | None]] = []
        self.purge_status = 204
        self.app = create_app(
            SERVICES["alt-backend"], settings, ServiceParts(routers=[self.router()])
        )

    def age_key_fetch(self, seconds: float) -> None:
        """Make the verifier's last fetch of auth-service's keys `seconds` older, as if that
        time had passed (as `Stack.advance_clock` does for auth-service)."""
        verifier: UserTokenVerifier | None = getattr(self.app.state, "user_token_verifier", None)
        if verifier is not None:
            verifier._keys.fetched_at -= seconds

    def router(self) -> APIRouter:
        r = APIRouter()

        @r.get("/v1/whoami")
        async def whoami(user: CurrentUser) -> dict[str, Any]:
            return {"id": str(user.id), "role": user.role, "session": str(user.session_id)}

        @r.post("/v1/things")
        async def make_thing(user: CurrentUser) -> dict[str, str]:
            return {"made_for": str(user.id)}

        @r.get("/v1/admin-only")
        async def admin_only(user: Admin) -> dict[str, str]:
            return {"admin": str(user.id)}

        @r.delete("/v1/internal/users/{user_id}")
        async def purge(user_id: uuid.UUID, request: Request) -> Response:
            self.purged.append((str(user_id), getattr(request.state, "caller", None)))
            return Response(status_code=self.purge_status)

        return r


@pytest.fixture(scope="module")
async def backend(stack: Stack) -> AsyncIterator[Backend]:
    made = Backend(stack.settings)
    async with serving({stack.settings.service_port("alt-backend"): made.app}):
        yield made


@pytest.fixture(scope="module")
async def user(stack: Stack, backend: Backend) -> tuple[Browser, uuid.UUID]:
    user_id = stack.make_user("reader@example.org")
    browser = stack.browser()
    assert (await browser.login("reader@example.org")).status_code == 200
    # Its first user token makes the signing key that tests forge with (in any order).
    assert (await browser.call("GET", "/api/v1/whoami")).status_code == 200
    return browser, user_id


def signing_key(stack: Stack) -> tuple[str, Ed25519PrivateKey]:
    row = stack.sql(
        "SELECT kid, private_key FROM signing_keys WHERE retired_at IS NULL"
        " ORDER BY created_at DESC LIMIT 1"
    )[0]
    key = serialization.load_pem_private_key(bytes(row["private_key"]), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return row["kid"], key


def claims(user_id: uuid.UUID, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": "auth-service",
        "aud": "alt",
        "sub": str(user_id),
        "role": "admin",
        "sid": str(uuid.uuid4()),
        "csrf": True,
        "iat": now,
        "exp": now + 120,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def unsigned(payload: dict[str, Any], kid: str) -> str:
    """A token with `alg: none` and no signature."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return (
        part(json.dumps({"alg": "none", "kid": kid}).encode())
        + "."
        + part(json.dumps(payload).encode())
        + "."
    )


def hs256(payload: dict[str, Any], secret: bytes, kid: str) -> str:
    """An HS256 token keyed with the public key (the algorithm-confusion attack)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = (
        part(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        + "."
        + part(json.dumps(payload).encode())
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + part(signature)


async def test_the_edge_passes_a_verified_user_to_the_backend(
    stack: Stack, user: tuple[Browser, uuid.UUID]
) -> None:
    browser, user_id = user
    me = await browser.call("GET", "/api/v1/whoami")
    assert me.status_code == 200, me.text
    assert me.json()["id"] == str(user_id)
    assert me.json()["role"] == "user"
    assert (await browser.call("GET", "/api/v1/admin-only")).status_code == 403
    admin = stack.browser()
    await admin.login(ADMIN_EMAIL)
    assert (await admin.call("GET", "/api/v1/admin-only")).status_code == 200


async def test_state_changes_in_the_backend_need_the_csrf_token(
    user: tuple[Browser, uuid.UUID],
) -> None:
    browser, user_id = user
    assert (await browser.call("POST", "/api/v1/things", csrf=False)).status_code == 403
    other = await browser.call("POST", "/api/v1/things", headers={"X-CSRF-Token": "x" * 43})
    assert other.status_code == 403
    made = await browser.call("POST", "/api/v1/things")
    assert made.status_code == 200
    assert made.json() == {"made_for": str(user_id)}
    cross = await browser.call("POST", "/api/v1/things", headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403


async def test_browsers_cannot_bring_their_own_identity(
    stack: Stack, backend: Backend, user: tuple[Browser, uuid.UUID]
) -> None:
    _, user_id = user
    kid, key = signing_key(stack)
    good = jwt.encode(claims(user_id), key, algorithm="EdDSA", headers={"kid": kid})
    purged = list(backend.purged)
    stranger = stack.browser()
    for headers in (
        {"X-Alt-User-Id": str(user_id), "X-Alt-User-Role": "admin"},
        {USER_TOKEN_HEADER: good},
        {"Authorization": f"Bearer {good}"},
    ):
        response = await stranger.http.get("/api/v1/whoami", headers=headers)
        assert response.status_code == 401
    assert (await stranger.http.get("/api/v1/internal/users/x")).status_code == 404
    assert (await stranger.http.delete(f"/api/v1/internal/users/{user_id}")).status_code == 404
    assert backend.purged == purged


async def test_the_backend_refuses_every_identity_but_a_valid_user_token(
    stack: Stack, backend: Backend, user: tuple[Browser, uuid.UUID]
) -> None:
    _, user_id = user
    kid, key = signing_key(stack)
    forger = Ed25519PrivateKey.generate()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    refused: dict[str, str | dict[str, str]] = {
        "plain headers": {"X-Alt-User-Id": str(user_id), "X-Alt-User-Role": "admin"},
        "forged signature": jwt.encode(
            claims(user_id), forger, algorithm="EdDSA", headers={"kid": kid}
        ),
        "expired": jwt.encode(
            claims(user_id, iat=int(time.time()) - 600, exp=int(time.time()) - 300),
            key,
            algorithm="EdDSA",
            headers={"kid": kid},
        ),
        "other audience": jwt.encode(
            claims(user_id, aud="auth-service"), key, algorithm="EdDSA", headers={"kid": kid}
        ),
        "other issuer": jwt.encode(
            claims(user_id, iss="alt-frontend"), key, algorithm="EdDSA", headers={"kid": kid}
        ),
        "unknown key id": jwt.encode(
            claims(user_id), key, algorithm="EdDSA", headers={"kid": "nope"}
        ),
        "no expiry": jwt.encode(
            claims(user_id, exp=None), key, algorithm="EdDSA", headers={"kid": kid}
        ),
        "lives too long": jwt.encode(
            claims(user_id, exp=int(time.time()) + 86_400),
            key,
            algorithm="EdDSA",
            headers={"kid": kid},
        ),
        "unsigned": unsigned(claims(user_id), kid),
        "hmac with the public key": hs256(claims(user_id), public_pem, kid),
        "garbage": "not.a.token",
    }
    async with stack.as_service("alt-frontend", "alt-backend") as direct:
        for name, identity in refused.items():
            headers: dict[str, str] = (
                identity if isinstance(identity, dict) else {USER_TOKEN_HEADER: identity}
            )
            response = await direct.get("/v1/whoami", headers=headers)
            assert response.status_code == 401, name
            assert response.json()["code"] == "unauthenticated"
        valid = jwt.encode(claims(user_id), key, algorithm="EdDSA", headers={"kid": kid})
        accepted = await direct.get("/v1/whoami", headers={USER_TOKEN_HEADER: valid})
        assert accepted.status_code == 200
        assert accepted.json()["id"] == str(user_id)
        no_csrf = jwt.encode(
            claims(user_id, csrf=False), key, algorithm="EdDSA", headers={"kid": kid}
        )
        post = await direct.post("/v1/things", headers={USER_TOKEN_HEADER: no_csrf})
        assert post.status_code == 403
    async with httpx.AsyncClient(base_url=stack.settings.service_url("alt-backend")) as bare:
        response = await bare.get("/v1/whoami", headers={USER_TOKEN_HEADER: valid})
        assert response.status_code == 401, "a user token alone is not a service token"


async def test_rotated_keys_are_published_before_use_and_learnt(
    stack: Stack, backend: Backend, user: tuple[Browser, uuid.UUID]
) -> None:
    browser, user_id = user
    old_kid, old_key = signing_key(stack)
    async with await psycopg.AsyncConnection.connect(
        stack.auth_db, autocommit=True, row_factory=dict_row
    ) as conn:
        new_kid = await UserTokenSigner(AuthSettings()).rotate(conn)
        assert new_kid != old_kid
        assert await UserTokenSigner(AuthSettings()).current_kid(conn) == old_kid, (
            "a new key does not sign before it has been published for a while"
        )
        published = await UserTokenSigner(AuthSettings()).jwks(conn)
        assert {new_kid, old_kid} <= {entry["kid"] for entry in published["keys"]}
        stack.advance_clock(PUBLISH_DELAY_S + 1)
        assert await UserTokenSigner(AuthSettings()).current_kid(conn) == new_kid
    assert stack.sql(
        "SELECT retired_at IS NOT NULL AS retired FROM signing_keys WHERE kid = %s", (old_kid,)
    ) == [{"retired": True}]
    kid, key = signing_key(stack)
    assert kid == new_kid
    backend.age_key_fetch(KEYS_MIN_REFETCH_S)  # past the verifier's floor between key fetches
    async with stack.as_service("alt-frontend", "alt-backend") as direct:
        for k, private in ((new_kid, key), (old_kid, old_key)):
            token = jwt.encode(claims(user_id), private, algorithm="EdDSA", headers={"kid": k})
            response = await direct.get("/v1/whoami", headers={USER_TOKEN_HEADER: token})
            assert response.status_code == 200, k
    async with stack.as_service("alt-backend") as auth:
        published = (await auth.get("/v1/auth/keys")).json()["keys"]
        assert {new_kid, old_kid} <= {entry["kid"] for entry in published}
        assert all(set(entry) == {"kty", "crv", "x", "kid", "alg", "use"} for entry in published)
    assert (await browser.call("GET", "/api/v1/whoami")).status_code == 200


async def test_validate_is_for_the_edge_and_the_backend_only(
    stack: Stack, user: tuple[Browser, uuid.UUID]
) -> None:
    browser, _ = user
    body = {"session_token": browser.cookie()}
    async with stack.as_service("alt-backend") as backend_client:
        response = await backend_client.post("/v1/auth/validate", json=body)
        assert response.status_code == 200
        assert "csrf_token" not in response.json()
    async with stack.as_service("tag-generator") as other:
        assert (await other.post("/v1/auth/validate", json=body)).status_code == 403
        assert (
            await other.post("/v1/auth/login", json={"email": "a@b.c", "password": "x"})
        ).status_code == 403
    async with httpx.AsyncClient(base_url=stack.auth_url) as anonymous:
        assert (await anonymous.post("/v1/auth/validate", json=body)).status_code == 401


async def test_deleting_a_user_deletes_the_app_data_too(stack: Stack, backend: Backend) -> None:
    admin = stack.browser()
    await admin.login(ADMIN_EMAIL)
    doomed = stack.make_user("doomed@example.org")
    deleted = await admin.call("DELETE", f"/api/auth/user/{doomed}")
    assert deleted.json() == {"status": "deleted", "app_data": "deleted"}
    assert (str(doomed), "auth-service") in backend.purged
    assert stack.sql("SELECT 1 FROM user_purges") == []

    backend.purge_status = 503
    later = stack.make_user("later@example.org")
    pending = await admin.call("DELETE", f"/api/auth/user/{later}")
    assert pending.json() == {"status": "deleted", "app_data": "pending"}
    assert stack.sql("SELECT user_id FROM user_purges") == [{"user_id": later}]
    backend.purge_status = 204

    async def purged() -> bool:
        return not stack.sql("SELECT 1 FROM user_purges")

    await until(purged, 30, "the purge retried until alt-backend confirmed")
    assert backend.purged.count((str(later), "auth-service")) >= 2
