"""API-key authentication, roles and the per-key rate limit.

Keys are verified against the ``api_keys`` table (``attrition.keys``) and the
answer is cached for ``serving.api_key_cache_seconds`` (default 5 s): a revoked
key stops working within that time in every running process, and a request
does not pay a database round trip. When the database cannot be reached, a key
verified before keeps working (stale cache entry) so predictions continue; an
unknown key then gets 503. A lookup waits at most ``db_timeout_seconds`` (the
database connect timeout) for the database, whatever the database does (refuses,
times out, or accepts and never answers): a key with a stale entry is then served
from it, and the lookup still running in the background refreshes the entry when
it returns. One lookup per key is in flight at a time, so a silent database does
not pile up threads.

Rate limit: a token bucket per key, ``serving.rate_limit_per_minute`` tokens
refilled evenly over a minute, burst up to the same number. It lives in the
process's memory: with N workers a key can make up to N times the limit.

People sign in for a bearer token (``api.tokens``); ``UserVerifier`` checks a
token's user against the ``users`` table with the same cache and outage rules
(a disabled user, or one whose password was reset, is refused within
``serving.api_key_cache_seconds``). A user caller is named ``user:<name>``, so
users and keys never share a rate-limit bucket or an audit actor.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import sqlalchemy as sa

from api.errors import ApiError
from attrition.keys import hash_key, prefix_of, role_allows, verify_key
from attrition.users import find_user

API_KEY_HEADER = "X-API-Key"
_MAX_CACHED = 10_000
_LOOKUP_THREADS = 4


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's name and role (never the key), or ``user:<name>`` for a person."""

    name: str
    role: str
    kind: str = "key"

    @property
    def label(self) -> str:
        """The caller for a message: ``key 'hris'`` or ``user 'ana'``."""
        return f"{self.kind} {self.name.removeprefix('user:')!r}"


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": API_KEY_HEADER})


class KeyVerifier:
    """Key -> Caller, cached; see the module docstring for the cache and outage rules."""

    what = "the API key"

    def __init__(self, engine: sa.Engine, ttl_seconds: float, db_timeout_seconds: float = 5.0) -> None:
        self.engine = engine
        self.ttl = ttl_seconds
        self.db_timeout = db_timeout_seconds
        self._cache: dict[str, tuple[Caller | None, float]] = {}
        self._lock = threading.Lock()
        self._inflight: dict[str, Future[Caller | None]] = {}
        self._executor = ThreadPoolExecutor(max_workers=_LOOKUP_THREADS, thread_name_prefix="api-key-lookup")

    def cached(self, key: str) -> tuple[bool, Caller | None]:
        """(fresh hit, caller) from the cache without touching the database."""
        entry = self._cache.get(self._digest(key))
        if entry is not None and time.monotonic() - entry[1] < self.ttl:
            return True, entry[0]
        return False, None

    def lookup(self, key: str) -> Caller | None:
        """Verify against the database (blocking, at most ``db_timeout`` s); a stale entry when it fails."""
        digest = self._digest(key)
        try:
            return self._verify(key, digest).result(timeout=self.db_timeout)
        except (sa.exc.SQLAlchemyError, TimeoutError):
            stale = self._cache.get(digest)
            if stale is not None and stale[0] is not None:
                return stale[0]
            raise ApiError(
                503, f"cannot verify {self.what}: the app database is unreachable; retry shortly"
            ) from None

    def _verify(self, key: str, digest: str) -> Future[Caller | None]:
        """The database lookup of ``key``: the one in flight, or a new one."""
        with self._lock:
            future = self._inflight.get(digest)
            if future is None:
                try:
                    future = self._executor.submit(self._verify_now, key, digest)
                except RuntimeError:  # closed at shutdown: answer as if the database were down
                    raise TimeoutError from None
                self._inflight[digest] = future
            return future

    def _verify_now(self, key: str, digest: str) -> Caller | None:
        try:
            caller = self._fetch(key)
            with self._lock:
                if len(self._cache) >= _MAX_CACHED:
                    self._cache.clear()
                self._cache[digest] = (caller, time.monotonic())
            return caller
        finally:
            with self._lock:
                self._inflight.pop(digest, None)

    def _digest(self, key: str) -> str:
        return hash_key(key)

    def _fetch(self, key: str) -> Caller | None:
        info = verify_key(self.engine, key)
        return Caller(info.name, info.role) if info else None

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()

    def close(self) -> None:
        """Stop the lookup threads (a lookup stuck on the database ends at its connect timeout)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


class UserVerifier(KeyVerifier):
    """(user name, token version) -> Caller when the user is active at that version, cached."""

    what = "the sign-in token"

    @staticmethod
    def credential(name: str, version: int) -> str:
        return f"{version}:{name}"

    def _digest(self, key: str) -> str:
        return key

    def _fetch(self, key: str) -> Caller | None:
        version, _, name = key.partition(":")
        user = find_user(self.engine, name)
        if user is None or not user.active or str(user.token_version) != version:
            return None
        return Caller(f"user:{user.name}", user.role, kind="user")


def check_key(key: str | None) -> str:
    """The header's key, or 401 saying what is wrong with it."""
    if not key:
        raise _unauthorized(
            f"missing API key: send it in the {API_KEY_HEADER} header (create one: attrition keys create), "
            "or sign in at POST /v1/auth/token and send Authorization: Bearer <token>"
        )
    if prefix_of(key) is None:
        raise _unauthorized("invalid API key")
    return key


def authorize(caller: Caller | None, required: str) -> Caller:
    if caller is None:
        raise _unauthorized("invalid or revoked API key")
    if not role_allows(caller.role, required):
        raise ApiError(403, f"{caller.label} has role {caller.role!r}; this endpoint needs role {required!r}")
    return caller


class RateLimiter:
    """Token bucket per key name (in-process)."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(max(1, per_minute))
        self.rate = self.capacity / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, name: str) -> float:
        """0 when the request may go ahead, else seconds until a token is available."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(name, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[name] = (tokens - 1.0, now)
                return 0.0
            self._buckets[name] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def check(self, caller: Caller) -> None:
        wait = self.take(caller.name)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise ApiError(
                429,
                f"rate limit of {int(self.capacity)} requests per minute exceeded for {caller.label}; "
                f"retry in {seconds} s",
                headers={"Retry-After": str(seconds)},
            )
