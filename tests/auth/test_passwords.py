"""Passwords (AUTH-07): Argon2id at OWASP strength, rehash on login, huge passwords refused
before hashing, no 72-byte truncation, and the policy (length, common passwords)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from argon2 import PasswordHasher

from alt.auth.passwords import WeakPassword, check_policy, is_common
from tests.auth.conftest import OPEN_REGISTRATION, PASSWORD, Stack

OWASP_MIN_M, OWASP_MIN_T = 19_456, 2


@pytest.fixture(scope="module")
def auth_env() -> dict[str, str]:
    return OPEN_REGISTRATION


def stored_hash(stack: Stack, email: str) -> str:
    rows = stack.sql("SELECT password_hash FROM users WHERE email = %s", (email,))
    value: str = rows[0]["password_hash"]
    return value


def parameters(password_hash: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$.+", password_hash)
    assert match, password_hash
    m, t, p = (int(group) for group in match.groups())
    return m, t, p


# AUTH-07: Argon2id at OWASP parameters.
async def test_hashes_are_argon2id_at_least_owasp_strength(stack: Stack) -> None:
    browser = stack.browser()
    assert (await browser.register("hash@example.org")).status_code == 202
    m, t, _p = parameters(stored_hash(stack, "hash@example.org"))
    assert m >= OWASP_MIN_M
    assert t >= OWASP_MIN_T
    assert m * t >= OWASP_MIN_M * OWASP_MIN_T


# AUTH-07: rehashed on login.
async def test_a_weaker_hash_is_replaced_at_the_next_login(stack: Stack) -> None:
    stack.make_user("old@example.org")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    stack.sql("UPDATE users SET password_hash = %s WHERE email = 'old@example.org'", (weak,))
    assert (await stack.browser().login("old@example.org")).status_code == 200
    rehashed = stored_hash(stack, "old@example.org")
    assert rehashed != weak
    assert parameters(rehashed)[0] >= OWASP_MIN_M
    assert (await stack.browser().login("old@example.org")).status_code == 200
    assert stored_hash(stack, "old@example.org") == rehashed, "rehashed once"


@pytest.fixture
def argon2_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many Argon2 hashes and verifications run from here on (the real ones, counted)."""
    calls: Counter[str] = Counter()

    def counted(name: str) -> Callable[..., Any]:
        real = getattr(PasswordHasher, name)

        def call(self: PasswordHasher, *args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(self, *args, **kwargs)

        return call

    for name in ("hash", "verify"):
        monkeypatch.setattr(PasswordHasher, name, counted(name))
    return calls


# AUTH-07: huge passwords refused before hashing.
async def test_huge_passwords_are_refused_without_hashing(
    stack: Stack, argon2_calls: Counter[str]
) -> None:
    browser = stack.browser()
    token = await browser.fetch_csrf()
    for size, status, code in ((1024 * 1024, 413, "payload_too_large"), (4096, 422, None)):
        for path, email in (
            ("/api/auth/login", "hash@example.org"),
            ("/api/auth/register", "big@example.org"),
        ):
            response = await browser.http.post(
                path,
                json={"email": email, "password": "p" * size},
                headers={"X-CSRF-Token": token},
            )
            assert response.status_code == status, (path, size)
            assert code is None or response.json()["code"] == code
    assert argon2_calls == {}, "no Argon2 work for a refused password"
    assert stack.sql("SELECT 1 FROM users WHERE email = 'big@example.org'") == []
    # The same calls with a password of normal size do the work: the count can see it.
    assert (await browser.login("hash@example.org", "p" * 20)).status_code == 401
    assert argon2_calls["verify"] == 1


async def test_no_truncation_at_72_bytes(stack: Stack) -> None:
    common = "q7#Lm9$vX2!pR4@wZ8%tK1^bN6&yH3*cF5(dJ0)sG" * 2
    first, second = common[:72] + "A" * 8, common[:72] + "B" * 8
    assert len(first.encode()) == len(second.encode()) == 80
    stack.make_user("long@example.org", first)
    assert (await stack.browser().login("long@example.org", second)).status_code == 401
    assert (await stack.browser().login("long@example.org", first)).status_code == 200


@pytest.mark.parametrize(
    "password",
    [
        "short",
        "password1234",
        "Password1234!",
        "qwerty123456",
        "123qweasdzxc",
        "iloveyou2024!!",
        "aaaaaaaaaaaaaaaa",
        "abababababababab",
    ],
)
def test_weak_and_common_passwords_are_refused(password: str) -> None:
    with pytest.raises(WeakPassword):
        check_policy(password)


@pytest.mark.parametrize("password", [PASSWORD, "Tr0ub4dor&3-but-longer", "zebra mango 1987 kite"])
def test_good_passwords_pass(password: str) -> None:
    check_policy(password)
    assert not is_common(password)


async def test_registration_refuses_weak_passwords(stack: Stack) -> None:
    response = await stack.browser().register("weak@example.org", "letmein12345")
    assert response.status_code == 422
    assert stack.sql("SELECT 1 FROM users WHERE email = 'weak@example.org'") == []
