"""The edge behind https (AUTH-04): `__Host-` cookies with Secure, HttpOnly, SameSite=Lax,
Path=/ and no Domain, and HSTS; with a configured reverse proxy in front, its X-Forwarded-For
names the client (and only then)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from alt.config import Settings
from alt.frontend.service import parts
from alt.platform.http_app import create_app
from alt.services import SERVICES
from tests.auth.conftest import ADMIN_EMAIL, PASSWORD, Stack
from tests.helpers import SERVE_WITHIN_S, free_port, loopback_urls, with_overrides
from tests.support.waiting import until


@pytest.fixture(scope="module")
def auth_env() -> dict[str, str]:
    return {"ALT_AUTH_TRUSTED_PROXIES": "127.0.0.1/32"}


@pytest.fixture(scope="module")
def served() -> tuple[str, ...]:
    return ("auth-service",)  # alt-frontend is served over TLS below


@pytest.fixture(scope="module")
def stack_settings(settings: Settings, auth_db: str, module_env: None) -> Settings:
    urls = loopback_urls()
    urls["ALT_FRONTEND_URL"] = f"https://127.0.0.1:{free_port()}"
    return with_overrides(settings, AUTH_DATABASE_URL=auth_db, **urls)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
async def tls_edge(
    stack: Stack, certificate: tuple[Path, Path]
) -> AsyncIterator[httpx.AsyncClient]:
    """alt-frontend served over TLS, as behind https."""
    settings = stack.settings
    app = create_app(SERVICES["alt-frontend"], settings, parts(settings))
    port = settings.service_port("alt-frontend")
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            lifespan="on",
            ssl_certfile=str(certificate[0]),
            ssl_keyfile=str(certificate[1]),
        )
    )
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        if task.done():
            task.result()  # raises why it could not start
        return server.started

    await until(started, SERVE_WITHIN_S, "the edge serving HTTPS")
    context = ssl.create_default_context(cafile=str(certificate[0]))
    async with httpx.AsyncClient(
        base_url=settings.service_url("alt-frontend"), verify=context, follow_redirects=False
    ) as client:
        yield client
    server.should_exit = True
    await task


async def login(
    client: httpx.AsyncClient, email: str = ADMIN_EMAIL, headers: dict[str, str] | None = None
) -> httpx.Response:
    token = (await client.post("/api/auth/csrf")).json()["csrf_token"]
    return await client.post(
        "/api/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"X-CSRF-Token": token, **(headers or {})},
    )


def attributes(set_cookie: str) -> tuple[str, dict[str, str]]:
    name_value, *rest = [part.strip() for part in set_cookie.split(";")]
    attrs = {}
    for part in rest:
        key, _, value = part.partition("=")
        attrs[key.lower()] = value
    return name_value.split("=", 1)[0], attrs


# AUTH-04: __Host- cookies, Secure, HttpOnly, SameSite=Lax.
async def test_cookies_are_host_prefixed_and_secure(tls_edge: httpx.AsyncClient) -> None:
    tls_edge.cookies.clear()  # a new browser: the presession cookie is set afresh
    csrf = await tls_edge.post("/api/auth/csrf")
    name, _attrs = attributes(csrf.headers["set-cookie"])
    assert name == "__Host-alt_presession"
    response = await login(tls_edge)
    assert response.status_code == 200
    cookies = dict(attributes(c) for c in response.headers.get_list("set-cookie"))
    session = cookies["__Host-alt_session"]
    assert "secure" in session
    assert "httponly" in session
    assert session["samesite"].lower() == "lax"
    assert session["path"] == "/"
    assert "domain" not in session
    assert 0 < int(session["max-age"]) <= 30 * 86_400
    assert "secure" in cookies["__Host-alt_presession"], "cleared the same way it was set"
    assert response.headers["strict-transport-security"].startswith("max-age=")
    profile = await tls_edge.get("/api/auth/user/profile")
    assert profile.status_code == 200


# INC-04: forwarding headers count only from a configured proxy.
async def test_a_configured_proxy_names_the_client(
    stack: Stack, tls_edge: httpx.AsyncClient
) -> None:
    """The socket peer (127.0.0.1) is a configured proxy here, so its X-Forwarded-For is read
    from the right, skipping proxies."""
    failed = await tls_edge.post(
        "/api/auth/login",
        json={"email": "x@example.org", "password": "wrong password!"},
        headers={
            "X-CSRF-Token": (await tls_edge.post("/api/auth/csrf")).json()["csrf_token"],
            "X-Forwarded-For": "203.0.113.66, 198.51.100.7, 127.0.0.1",
        },
    )
    assert failed.status_code == 401
    assert stack.audit("login.failed")[-1]["ip"].exploded == "198.51.100.7"
    rows = stack.sql("SELECT key FROM auth_throttle WHERE scope = 'login_ip'")
    assert {"key": "198.51.100.7"} in rows
