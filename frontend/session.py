"""Who is signed in, the API client for them, cached reads, and errors a person can act on.

The bearer token lives only in ``st.session_state`` (never in a URL or a cookie);
signing out or an expired token drops it. ``guard()`` turns every API failure into
a message that says what is missing and how to fix it, never a stack trace.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterator
from typing import Any

import streamlit as st

from attrition.config import UiSettings, get_settings
from frontend.client import (
    ApiClient,
    ApiError,
    ApiUnreachable,
    NotAllowed,
    NotFound,
    Session,
    SessionExpired,
    Unavailable,
)

ROLES = ("viewer", "predictor", "admin")
_SESSION = "session"
_FLASH = "flash"


def ui_settings() -> UiSettings:
    return get_settings().ui


def current() -> Session | None:
    """The signed-in session, or None (an expired one is dropped with a note for the sign-in page)."""
    session: Session | None = st.session_state.get(_SESSION)
    if session is not None and session.expired:
        sign_out("Your session expired. Sign in again.")
        return None
    return session


def sign_in(session: Session) -> None:
    st.session_state[_SESSION] = session


def browser_address() -> str | None:
    """The signing-in browser's address: the peer, or behind a proxy on this host or network
    (a loopback or private peer) the address that proxy put last in X-Forwarded-For."""
    peer, forwarded = st.context.ip_address, st.context.headers.get("X-Forwarded-For")
    # Outside a browser session (AppTest) these are not strings: no address to forward.
    return client_address(
        peer if isinstance(peer, str) else None, forwarded if isinstance(forwarded, str) else None
    )


def client_address(peer: str | None, forwarded: str | None) -> str | None:
    """``peer`` unless it is a proxy of ours (loopback/private) that forwarded an address."""
    try:
        proxied = peer is None or ipaddress.ip_address(peer).is_private  # loopback is private too
    except ValueError:
        proxied = False
    hops = [hop.strip() for hop in (forwarded or "").split(",") if hop.strip()]
    if proxied and hops:
        return hops[-1]  # the one our proxy added; anything left of it the client could have written
    return peer


def sign_out(note: str | None = None) -> None:
    """Forget the token and everything read with it."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if note:
        st.session_state[_FLASH] = note


def take_flash() -> str | None:
    """A note left for the next page shown (e.g. why the user was signed out)."""
    note: str | None = st.session_state.pop(_FLASH, None)
    return note


def allows(role: str, required: str) -> bool:
    return ROLES.index(role) >= ROLES.index(required)


def client() -> ApiClient:
    """A client for the signed-in user (anonymous before sign-in)."""
    settings = ui_settings()
    session = current()
    return ApiClient(settings.api_url, session.token if session else None, settings.request_timeout_seconds)


@st.cache_data(ttl=max(get_settings().ui.cache_seconds, 1), show_spinner=False, max_entries=500)
def _cached(
    base_url: str, token: str, method: str, args: tuple[Any, ...], kwargs: tuple[tuple[str, Any], ...]
) -> Any:
    api = ApiClient(base_url, token, ui_settings().request_timeout_seconds)
    try:
        return getattr(api, method)(*args, **dict(kwargs))
    finally:
        api.close()


def read(method: str, *args: Any, **kwargs: Any) -> Any:
    """``ApiClient.<method>(...)`` for the signed-in user, kept for ``ui.cache_seconds`` per user."""
    session = current()
    if session is None:
        raise SessionExpired(401, "not signed in")
    settings = ui_settings()
    if settings.cache_seconds <= 0:
        return fresh(method, *args, **kwargs)
    return _cached(settings.api_url, session.token, method, args, tuple(sorted(kwargs.items())))


def fresh(method: str, *args: Any, **kwargs: Any) -> Any:
    """An uncached read that changes nothing (polling a job): the read cache stays as it is."""
    api = client()
    try:
        return getattr(api, method)(*args, **kwargs)
    finally:
        api.close()


def call(method: str, *args: Any, **kwargs: Any) -> Any:
    """An uncached call (anything that changes something); clears the read cache after it."""
    try:
        return fresh(method, *args, **kwargs)
    finally:
        forget()


def forget() -> None:
    """Drop every cached read: after a change, pages show the new state."""
    _cached.clear()


def explain(exc: ApiError, what: str) -> None:
    """Show what could not be done and how to fix it."""
    if isinstance(exc, ApiUnreachable):
        st.error(
            f"The prediction API at {ui_settings().api_url} does not answer, so {what} cannot be shown. "
            "Start it with `attrition serve api` (or `make demo`), then reload this page.",
            icon=":material/cloud_off:",
        )
    elif isinstance(exc, NotAllowed):
        st.warning(f"Your role does not allow this: {exc.message}.", icon=":material/lock:")
    elif isinstance(exc, Unavailable):
        st.warning(f"{what.capitalize()} is not available: {exc.message}", icon=":material/hourglass_empty:")
    elif isinstance(exc, NotFound):
        st.info(f"Nothing to show: {exc.message}", icon=":material/search_off:")
    else:
        st.error(f"Could not load {what}: {exc.message}", icon=":material/error:")
        for issue in exc.detail[:10]:
            st.caption(
                f"{issue.get('field')}: expected {issue.get('expected')}, got {issue.get('received')!r}"
            )


@contextlib.contextmanager
def guard(what: str) -> Iterator[None]:
    """Run a page's API calls; on failure explain it and stop the page (an expired token signs out)."""
    try:
        yield
    except SessionExpired:
        sign_out("Your session expired or your account changed. Sign in again.")
        st.rerun()
    except ApiError as exc:
        explain(exc, what)
        st.stop()


def require(role: str, what: str) -> Session:
    """The session, if its role may use ``what``; otherwise say so and stop the page."""
    session = current()
    if session is None:
        st.stop()
    assert session is not None
    if not allows(session.role, role):
        st.warning(
            f"{what} needs the {role} role; you are signed in as {session.role}. Ask an admin for access.",
            icon=":material/lock:",
        )
        st.stop()
    return session
