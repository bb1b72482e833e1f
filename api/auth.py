"""API-key authentication, roles, the per-key rate limit and the failed-authentication limit.

Roles are ordered, each with the rights of the ones before it:

==============================  ======  =========  =====
What                            viewer  predictor  admin
==============================  ======  =========  =====
scores, risk bands, factors     yes     yes        yes
model info, drift, workforce    yes     yes        yes
stored inputs (raw records)     no      yes        yes
predict, feedback, score jobs   no      yes        yes
reload, promote, keys, users    no      no         yes
==============================  ======  =========  =====

"Stored inputs" are the record a prediction was made from (``inputs`` in
``GET /v1/predictions``: ``{}`` for a viewer, see ``visible_inputs``) and an employee's
stored snapshots (``records`` in ``GET /v1/employees/{number}``: a viewer gets only the
columns the employee list already shows, ``VIEWER_RECORD_COLUMNS``).

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

Failed authentication (``FailedAuthLimiter``): every 401 (no key, a wrong or revoked
key, a bad or expired bearer token, a wrong sign-in password) takes a token from a
bucket per client address (``AUTH_FAILURES_PER_MINUTE``, burst the same). An address
with an empty bucket gets 429 with ``Retry-After`` for any credential not already
proven (a key this process verified within the cache time, a well-signed token), so
guessing stops and the database is not asked; other addresses are not affected.
It is per process, like the rate limit: each worker and each replica counts on its
own, so N of them allow up to N times the limit. The address is the TCP peer, or
the one a trusted proxy forwards (uvicorn's ``--forwarded-allow-ips``, loopback by
default): behind a proxy that does not forward it, all clients share one bucket.

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
from typing import Any

import sqlalchemy as sa

from api.errors import ApiError
from attrition.db.workforce import LIST_EMPLOYEE_COLUMNS
from attrition.keys import hash_key, prefix_of, role_allows, verify_key
from attrition.schema import ID_COLUMN, SNAPSHOT_DATE
from attrition.users import find_user

API_KEY_HEADER = "X-API-Key"
_MAX_CACHED = 10_000
_LOOKUP_THREADS = 4
#: Failed authentications allowed per client address and minute (and as a burst), per process.
AUTH_FAILURES_PER_MINUTE = 30
_MAX_ADDRESSES = 50_000
#: The least role that sees stored inputs (raw records).
INPUTS_ROLE = "predictor"
#: What a viewer sees of an employee's stored record: what the employee list shows everyone.
VIEWER_RECORD_COLUMNS: tuple[str, ...] = (ID_COLUMN, SNAPSHOT_DATE, *LIST_EMPLOYEE_COLUMNS)


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
            too_many(
                wait, f"rate limit of {int(self.capacity)} requests per minute exceeded for {caller.label}"
            )


def sees_inputs(caller: Caller) -> bool:
    """Whether ``caller`` may read stored inputs (see the role matrix above)."""
    return role_allows(caller.role, INPUTS_ROLE)


def visible_inputs(caller: Caller, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Logged-prediction rows as ``caller`` may see them: ``inputs`` emptied for a viewer."""
    if sees_inputs(caller):
        return rows
    return [{**row, "inputs": {}} for row in rows]


def visible_records(caller: Caller, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An employee's stored records as ``caller`` may see them: ``VIEWER_RECORD_COLUMNS`` for a viewer."""
    if sees_inputs(caller):
        return records
    return [{c: record[c] for c in VIEWER_RECORD_COLUMNS if c in record} for record in records]


class FailedAuthLimiter:
    """Token bucket of failed authentications per client address (in-process; see the module docstring)."""

    def __init__(self, per_minute: int = AUTH_FAILURES_PER_MINUTE) -> None:
        self.capacity = float(max(1, per_minute))
        self.rate = self.capacity / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _tokens(self, address: str, now: float) -> float:
        tokens, last = self._buckets.get(address, (self.capacity, now))
        return min(self.capacity, tokens + (now - last) * self.rate)

    def wait(self, address: str) -> float:
        """0 when ``address`` may try to authenticate, else seconds until it may."""
        with self._lock:
            tokens = self._tokens(address, time.monotonic())
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def failed(self, address: str) -> None:
        """Count one failed authentication from ``address``."""
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) >= _MAX_ADDRESSES:
                self._forget_full(now)
            self._buckets[address] = (max(0.0, self._tokens(address, now) - 1.0), now)

    def _forget_full(self, now: float) -> None:
        """Drop addresses whose bucket has refilled (they would start full anyway)."""
        self._buckets = {a: b for a, b in self._buckets.items() if self._tokens(a, now) < self.capacity}
        if len(self._buckets) >= _MAX_ADDRESSES:  # all still counting: keep memory bounded
            self._buckets.clear()

    def check(self, address: str) -> None:
        """429 with ``Retry-After`` while ``address`` is over the limit."""
        wait = self.wait(address)
        if wait > 0:
            too_many(
                wait,
                f"too many failed authentications from this address (limit {int(self.capacity)} per minute)",
                "with a valid API key or sign-in token",
            )


def too_many(wait: float, why: str, how: str = "") -> None:
    """429 with ``Retry-After``: ``why``; retry in N s ``how``."""
    seconds = max(1, math.ceil(wait))
    retry = f"retry in {seconds} s {how}".rstrip()
    raise ApiError(429, f"{why}; {retry}", headers={"Retry-After": str(seconds)})
