"""Two-factor login: enrolment, login with a code, no replay, recovery codes, switching off."""

from __future__ import annotations

import time

import pyotp

from tests.auth.conftest import PASSWORD, Stack


def code_at(secret: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


async def test_enrol_log_in_recover_and_switch_off(stack: Stack) -> None:
    user = stack.make_user("otp@example.org")
    browser = stack.browser()
    await browser.login("otp@example.org")
    refused = await browser.call("POST", "/api/auth/user/totp", {"password": "wrong one!!"})
    assert refused.status_code == 403
    begun = await browser.call("POST", "/api/auth/user/totp", {"password": PASSWORD})
    assert begun.status_code == 200
    secret = begun.json()["secret"]
    assert begun.json()["uri"].startswith("otpauth://totp/Alt:otp%40example.org?secret=")
    assert (await stack.browser().login("otp@example.org")).status_code == 200, (
        "not active before confirmation"
    )

    bad = await browser.call("POST", "/api/auth/user/totp/confirm", {"code": "000000"})
    assert bad.status_code == 422
    before = browser.cookie()
    confirmed = await browser.call(
        "POST", "/api/auth/user/totp/confirm", {"code": code_at(secret, -1)}
    )
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert browser.cookie() != before, "privilege change rotates the session"
    stored = stack.sql("SELECT code_hash FROM recovery_codes WHERE user_id = %s", (user,))
    assert len(stored) == 10
    assert all(c.encode() not in row["code_hash"] for c in codes for row in stored)

    other = stack.browser()
    missing = await other.login("otp@example.org")
    assert missing.status_code == 401
    assert missing.json()["code"] == "second_factor_required"
    assert other.cookie() is None
    wrong = await other.login("otp@example.org", code="123456")
    assert wrong.status_code == 401
    assert other.cookie() is None
    bad_password = await other.login("otp@example.org", "not the password", code_at(secret))
    assert bad_password.status_code == 401
    assert bad_password.json()["code"] == "invalid_credentials"
    current = code_at(secret)
    assert (await other.login("otp@example.org", code=current)).status_code == 200
    replay = await stack.browser().login("otp@example.org", code=current)
    assert replay.status_code == 401, "a code works once"

    recovered = stack.browser()
    assert (await recovered.login("otp@example.org", code=codes[0].upper())).status_code == 200
    again = await stack.browser().login("otp@example.org", code=codes[0])
    assert again.status_code == 401, "a recovery code works once"
    assert stack.audit("totp.enabled")
    assert stack.audit("totp.recovery_used")
    profile = (await recovered.call("GET", "/api/auth/user/profile")).json()
    assert profile["user"]["totp_enabled"] is True
    assert profile["recovery_codes_left"] == 9

    renewed = await recovered.call(
        "POST", "/api/auth/user/totp/recovery-codes", {"password": PASSWORD}
    )
    assert renewed.status_code == 200
    assert (await stack.browser().login("otp@example.org", code=codes[1])).status_code == 401
    new_code = renewed.json()["recovery_codes"][0]
    assert (await stack.browser().login("otp@example.org", code=new_code)).status_code == 200

    off = await recovered.call("DELETE", "/api/auth/user/totp", {"password": PASSWORD})
    assert off.status_code == 200
    assert (await stack.browser().login("otp@example.org")).status_code == 200
    assert stack.sql("SELECT totp_secret FROM users WHERE id = %s", (user,)) == [
        {"totp_secret": None}
    ]
    assert stack.sql("SELECT 1 FROM recovery_codes WHERE user_id = %s", (user,)) == []
    assert stack.audit("totp.disabled")


async def test_wrong_codes_count_towards_the_lockout(stack: Stack) -> None:
    stack.make_user("otp2@example.org")
    browser = stack.browser()
    await browser.login("otp2@example.org")
    secret = (await browser.call("POST", "/api/auth/user/totp", {"password": PASSWORD})).json()[
        "secret"
    ]
    await browser.call("POST", "/api/auth/user/totp/confirm", {"code": code_at(secret)})
    guesser = stack.browser()
    statuses = [
        (await guesser.login("otp2@example.org", code=f"{n:06d}")).status_code for n in range(7)
    ]
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429]
    assert (await guesser.login("otp2@example.org", code=code_at(secret, 1))).status_code == 429
