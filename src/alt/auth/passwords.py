"""Password hashing with Argon2id and the password policy.

Hashing uses OWASP's recommended Argon2id parameters (m=19 MiB, t=2, p=1: about 30 ms and
19 MiB per hash on a small machine, so a burst of logins cannot exhaust memory). Hashes made
with other parameters are replaced at the next successful login. Verification always costs
one Argon2 computation, also for accounts that do not exist (a dummy hash), so that answers and
timing do not tell which accounts exist.
"""

from __future__ import annotations

import functools
import gzip
import secrets
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from prometheus_client import Counter

MIN_LENGTH = 12
MAX_LENGTH = 1024  # longer inputs are refused before hashing: hashing is the expensive part

HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1, hash_len=32, salt_len=16)

VERIFICATIONS = Counter(
    "alt_auth_password_verifications_total",
    "Argon2 password verifications, dummy ones for unknown accounts included.",
)

_EDGE_CHARACTERS = "0123456789!@#$%^&*()-_=+.,;:?~ "


class WeakPassword(ValueError):
    pass


@functools.cache
def _common_passwords() -> frozenset[str]:
    data = resources.files("alt.auth").joinpath("data/common-passwords.txt.gz").read_bytes()
    lines = gzip.decompress(data).decode().splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def is_common(password: str) -> bool:
    """A listed common password, also with digits or symbols around it ("password2024!")."""
    lowered = password.lower()
    core = lowered.strip(_EDGE_CHARACTERS)
    common = _common_passwords()
    return lowered in common or (len(core) >= 6 and core in common) or len(set(lowered)) < 4


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"The password must have at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"The password must have at most {MAX_LENGTH} characters.")
    if is_common(password):
        raise WeakPassword("This password is too common; choose another one.")


def hash_password(password: str) -> str:
    check_policy(password)
    return HASHER.hash(password)


@functools.cache
def _dummy_hash() -> str:
    return HASHER.hash(secrets.token_urlsafe(24))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if `password` matches; with no stored hash, spend the same work and say False."""
    if len(password) > MAX_LENGTH:
        return False
    VERIFICATIONS.inc()
    try:
        matches = HASHER.verify(stored_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    return HASHER.check_needs_rehash(stored_hash)


def rehash(password: str) -> str:
    """A hash with today's parameters for a password that just verified (no policy check: the
    user chose it under older rules and is not asked to change it here)."""
    return HASHER.hash(password)


def warm_up() -> None:
    """Make the dummy hash before the first login, so the first unknown account is not slower."""
    _dummy_hash()
    _common_passwords()
