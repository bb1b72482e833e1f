"""Signed bearer tokens for people who signed in (``POST /v1/auth/token``).

A token is a JWT signed with HS256 and ``serving.token_secret``; it carries the user
name (``sub``), the role it was issued with, the user's ``token_version`` (``ver``) and
an expiry ``serving.token_minutes`` ahead. The signature and expiry are checked here
with no database; whether the user is still active, still has that token version
(disabling or a password reset ends older tokens) and their current role are checked
against the ``users`` table through a cached lookup (``api.auth.UserVerifier``).

Without ``serving.token_secret`` each process signs with a random secret of its own:
tokens then stop working at a restart and are refused by the other workers and
replicas, so set the same secret on every one of them.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass

import jwt

from attrition.config import ServingSettings
from attrition.users import UserInfo

logger = logging.getLogger(__name__)
ALGORITHM = "HS256"
ISSUER = "attrition-api"
MIN_SECRET_LENGTH = 32


@dataclass(frozen=True)
class Claims:
    """What a valid token says: who, with which role and token version."""

    name: str
    role: str
    version: int


class TokenSigner:
    def __init__(self, secret: str, minutes: float) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"serving.token_secret must be at least {MIN_SECRET_LENGTH} characters "
                f"(got {len(secret)}); generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        self._secret = secret
        self.seconds = max(1, round(minutes * 60))

    @classmethod
    def from_settings(cls, serving: ServingSettings) -> TokenSigner:
        if serving.token_secret is None:
            logger.warning(
                "serving.token_secret is not set: signing tokens with a random per-process secret; "
                "set ATTRITION_SERVING__TOKEN_SECRET to the same value on every worker and replica"
            )
            return cls(secrets.token_urlsafe(32), serving.token_minutes)
        return cls(serving.token_secret.get_secret_value(), serving.token_minutes)

    def issue(self, user: UserInfo) -> str:
        """A token for ``user``, valid for ``self.seconds``."""
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": user.name,
            "role": user.role,
            "ver": user.token_version,
            "iat": now,
            "exp": now + self.seconds,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def read(self, token: str) -> Claims | None:
        """The claims of a well-signed, unexpired token; ``None`` for anything else."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.PyJWTError:
            return None
        name, role, version = claims.get("sub"), claims.get("role"), claims.get("ver")
        if not isinstance(name, str) or not isinstance(role, str) or not isinstance(version, int):
            return None
        return Claims(name, role, version)
