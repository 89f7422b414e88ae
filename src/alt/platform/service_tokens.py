"""Service-to-service trust: short-lived Ed25519-signed tokens whose audience is the callee.

Each service holds its own private key and every service's public key, so a service can prove
who it is but cannot speak for another. The key file is JSON:
`{"public": {service: pem, …}, "private": {service: pem, …}}`; in the cluster each pod's file
carries only its own private key, in embedded mode `alt up` generates one file for all.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from alt.services import SERVICES

HEADER = "X-Service-Token"
ALGORITHM = "EdDSA"
LEEWAY_S = 5


class ServiceTokenError(Exception):
    """A token that does not prove its caller."""


@dataclass(frozen=True)
class KeyRing:
    public: dict[str, Ed25519PublicKey]
    private: dict[str, Ed25519PrivateKey]

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        data = json.loads(path.read_text())
        public = {}
        for name, pem in data["public"].items():
            key = serialization.load_pem_public_key(pem.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError(f"{path}: public key of {name} is not Ed25519")
            public[name] = key
        private = {}
        for name, pem in data.get("private", {}).items():
            key_ = serialization.load_pem_private_key(pem.encode(), password=None)
            if not isinstance(key_, Ed25519PrivateKey):
                raise ValueError(f"{path}: private key of {name} is not Ed25519")
            private[name] = key_
        return cls(public, private)


def generate_key_file(path: Path) -> None:
    """Write a fresh key pair for every service, readable by the owner only."""
    public: dict[str, str] = {}
    private: dict[str, str] = {}
    for name in SERVICES:
        key = Ed25519PrivateKey.generate()
        private[name] = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public[name] = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"public": public, "private": private}, out)


class ServiceTokens:
    """Issues this service's tokens and verifies tokens addressed to it."""

    def __init__(self, service: str, keys: KeyRing, ttl_s: int = 60) -> None:
        self.service = service
        self.keys = keys
        self.ttl_s = ttl_s

    def issue(self, audience: str) -> str:
        key = self.keys.private.get(self.service)
        if key is None:
            raise ServiceTokenError(f"no private key for {self.service}")
        now = int(time.time())
        claims = {
            "iss": self.service,
            "aud": audience,
            "iat": now,
            "exp": now + self.ttl_s,
            "jti": secrets.token_urlsafe(16),
        }
        return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": self.service})

    def verify(self, token: str) -> str:
        """Return the calling service's name, or raise ServiceTokenError."""
        try:
            caller = jwt.get_unverified_header(token).get("kid")
            if not isinstance(caller, str) or caller not in self.keys.public:
                raise ServiceTokenError("unknown caller")
            key = self.keys.public[caller]
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.service,
                issuer=caller,
                leeway=LEEWAY_S,
                options={"require": ["iss", "aud", "iat", "exp"]},
            )
        except jwt.PyJWTError as exc:
            raise ServiceTokenError(str(exc)) from None
        if claims["exp"] - claims["iat"] > self.ttl_s + LEEWAY_S:
            raise ServiceTokenError("token lives too long")
        return caller
