"""Users in the auth database."""

from __future__ import annotations

import getpass
import sys
import uuid

import psycopg

from alt.auth.passwords import WeakPassword, hash_password
from alt.config import Settings
from alt.platform.embedded import database_urls
from alt.services import Database


class UserError(ValueError):
    pass


def normalise_email(email: str) -> str:
    email = email.strip()
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in email):
        raise UserError(f"{email!r} is not an e-mail address.")
    return f"{local}@{domain.lower()}".lower()


def create_user(conn: psycopg.Connection, email: str, password: str, *, admin: bool) -> uuid.UUID:
    """Create a user, an admin only when asked: nobody becomes admin by being first."""
    email = normalise_email(email)
    password_hash = hash_password(password)
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO users (email, password_hash, role) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING id",
            (email, password_hash, "admin" if admin else "user"),
        ).fetchone()
    if row is None:
        raise UserError(f"A user with the e-mail address {email} exists already.")
    user_id: uuid.UUID = row[0]
    return user_id


def create_user_from_cli(
    settings: Settings, email: str, *, admin: bool, password_stdin: bool
) -> int:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            print("alt: the passwords differ", file=sys.stderr)
            return 1
    try:
        with database_urls(settings) as urls, psycopg.connect(urls[Database.AUTH]) as conn:
            user_id = create_user(conn, email, password, admin=admin)
    except (UserError, WeakPassword) as exc:
        print(f"alt: {exc}", file=sys.stderr)
        return 1
    print(f"created {'admin' if admin else 'user'} {normalise_email(email)} ({user_id})")
    return 0
