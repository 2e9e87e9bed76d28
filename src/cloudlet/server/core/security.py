"""Secrets: argon2id password hashes, opaque API token secrets and signed session JWTs."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_PREFIX = "clt_"
JWT_ALGORITHM = "HS256"  # pinned: a token naming any other algorithm is refused



class Passwords:
    """argon2id hashing; the cost is a setting (RFC 9106's low-memory profile by default)."""

    def __init__(self, *, time_cost: int = 3, memory_kib: int = 65536) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        # verified against when the user does not exist, so both paths cost the same
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy, password) and bool(
                password_hash
            )
        except (VerificationError, InvalidHashError):
            return False


def new_api_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """API secrets carry 256 bits of entropy, so a fast hash is enough to store them safely."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_jti() -> str:
    return secrets.token_hex(16)


def encode_jwt(claims: dict[str, Any], key: str) -> str:
    return jwt.encode(claims, key, algorithm=JWT_ALGORITHM)


def decode_jwt(token: str, key: str, *, verify_exp: bool = True) -> dict[str, Any] | None:
    """The claims of a token we signed, or None for anything else (forged, expired, garbage)."""
    try:
        return jwt.decode(
            token,
            key,
            algorithms=[JWT_ALGORITHM],
            options={"verify_exp": verify_exp, "require": ["jti", "exp"]},
        )
    except jwt.PyJWTError:
        return None


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and not token.startswith(TOKEN_PREFIX)


def epoch(when: datetime) -> int:
    return int(when.timestamp())
