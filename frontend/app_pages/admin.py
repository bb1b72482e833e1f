"""Admin: user accounts, API keys and model versions, changed through ``/v1/admin`` (audited there),
and the audit log itself.

A change runs in its button's callback; its outcome is shown at the top of its tab in the run that
follows and dropped in that run, so a new password or key never stays in the session."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from attrition.config import CHALLENGER, CHAMPION
from frontend import session as state
from frontend.client import ApiError, ApiUnreachable, SessionExpired
from frontend.widgets import missing

_RESULT = "admin_result"
_ICONS = {"success": ":material/check_circle:", "warning": ":material/warning:", "info": ":material/info:"}
_VERSIONS = {"version": "Version", "aliases": "Aliases", "created_at": "Created", "roc_auc": "ROC-AUC"}
_VERSIONS |= {"pr_auc": "PR-AUC", "recall": "Recall", "precision": "Precision", "f1": "F1", "brier": "Brier"}
_VERSIONS |= {"ece": "Calibration error", "threshold": "Threshold", "gate": "Fairness gate", "run_id": "Run"}
_REASON = "Reason (optional, kept in the audit log)"
_USERS = {"name": "Name", "role": "Role", "active": "Active", "created_at": "Created"}
_USERS |= {"last_sign_in_at": "Last sign-in", "locked_until": "Locked until", "disabled_at": "Disabled"}
_KEYS = {"name": "Name", "role": "Role", "prefix": "Prefix", "active": "Active"}
_KEYS |= {"created_at": "Created", "revoked_at": "Revoked"}
_OPTIONAL = "leave empty to have one generated"
_AUDIT = {"at": "When (UTC)", "actor": "Who", "action": "Action", "subject": "On", "outcome": "Outcome"}
_AUDIT |= {"detail": "Detail"}
_AUDIT_LIMIT = 200
_ANY = "any"


@dataclass
class Outcome:
    """What a change did, for the tab it was made in (``secret``: shown this once, never kept)."""

    kind: str  # success | warning | info | error
    message: str
    items: tuple[str, ...] = ()
    secret: str | None = None
    error: ApiError | None = None
    tab: str = ""


_Done = str | Callable[[Any], Outcome]


def _run(tab: str, method: str, keys: tuple[str, ...], done: _Done, secret: str = "") -> None:
    """A button's callback: ``method`` with the values of the widgets ``keys`` (empty text: None; a
    ``*_name`` first is required); ``done``: a message formatted with them or a function of the answer;
    ``secret``: the answer's field to show once. A change clears its inputs and every "I understand"."""
    values = [None if isinstance(v, str) and not v.strip() else v for v in map(st.session_state.get, keys)]
    if keys and keys[0].endswith("_name") and values[0] is None:
        outcome = Outcome("error", "fill in the name first")
    else:
        try:
            answer = state.call(method, *values)
            outcome = done(answer) if callable(done) else Outcome("success", done.format(*values))
            outcome.secret = answer.get(secret) if secret else None
            for key in [*keys, *(k for k in st.session_state if str(k).endswith("_confirm"))]:
                st.session_state.pop(key, None)
        except ApiError as exc:
            outcome = Outcome("error", exc.message, error=exc)
    outcome.tab = tab
    st.session_state[_RESULT] = outcome


def _show(outcome: Outcome | None, tab: str) -> None:
    if outcome is None or outcome.tab != tab:
        return
    if outcome.error is not None:
        if isinstance(outcome.error, SessionExpired | ApiUnreachable):
            with state.guard("the change"):
                raise outcome.error
        st.error(outcome.message[:1].upper() + outcome.message[1:].rstrip(".") + ".", icon=":material/error:")
        for issue in outcome.error.detail[:5]:
            st.caption(f"{issue.get('field')}: expected {issue.get('expected')}")
        return
    text = outcome.message + "".join(f"\n- {item}" for item in outcome.items)
    getattr(st, outcome.kind)(text, icon=_ICONS.get(outcome.kind))
    if outcome.secret:
        st.code(outcome.secret, language=None)
        st.warning("Copy it now: it is not shown again.", icon=":material/key:")


def _load(method: str, what: str, **kwargs: Any) -> Any:
    """A read for one tab: a refusal is explained in the tab; API down or signed out stops the page."""
    try:
        return state.read(method, **kwargs)
    except (SessionExpired, ApiUnreachable) as exc:
        with state.guard(what):
            raise exc
    except ApiError as exc:
        state.explain(exc, what)
    return None


def _table(items: list[dict[str, Any]], columns: dict[str, str], key: str) -> None:
    """API records as a table: ``columns`` maps a field to its header (``*_at``/``*_until``: dates)."""
    frame = pd.DataFrame(items, columns=list(columns))
    config: dict[str, Any] = {}
    for field, label in columns.items():
        config[field] = st.column_config.Column(label)
        if field.endswith(("_at", "_until")):
            frame[field] = pd.to_datetime(frame[field], utc=True, errors="coerce")
            config[field] = st.column_config.DatetimeColumn(label, format="YYYY-MM-DD HH:mm")
        elif pd.api.types.is_bool_dtype(frame[field]):
            config[field] = st.column_config.CheckboxColumn(label)
        elif pd.api.types.is_float_dtype(frame[field]):
            config[field] = st.column_config.NumberColumn(label, format="%.3f")
    st.dataframe(frame, hide_index=True, column_config=config, key=key)


def _button(label: str, run: tuple[Any, ...], confirm: str = "", ready: bool = True) -> None:
    """The button of a change (``run``: ``_run``'s arguments): a form's submit button, or with
    ``confirm`` a destructive change's button, working only once "I understand: ..." is ticked."""
    key = f"admin_{run[1]}_button"
    if not confirm:
        st.form_submit_button(label, type="primary", key=key, on_click=_run, args=run)
        return
    ok = st.checkbox(f"I understand: {confirm}", key=f"admin_{run[1]}_confirm")
    st.button(label, disabled=not (ok and ready), key=key, on_click=_run, args=run)


def _users_tab(outcome: Outcome | None) -> None:
    _show(outcome, "users")
    if (listing := _load("users", "the user accounts")) is None:
        return
    users = listing["items"]
    _table(users, _USERS, "admin_users_table")
    new, change = st.columns(2, gap="large")
    with new, st.form("admin_new_user"):
        st.subheader("New user")
        st.text_input("User name", key="admin_user_name", placeholder="ana", max_chars=128)
        st.selectbox("Role", state.ROLES, key="admin_user_role")
        st.text_input("Password", type="password", key="admin_user_password", placeholder=_OPTIONAL)
        keys = ("admin_user_name", "admin_user_role", "admin_user_password")
        _button("Create user", ("users", "create_user", keys, "User **{0}** ({1}) created.", "password"))
    with change, st.form("admin_reset"):
        st.subheader("Reset a password")
        st.selectbox("User", [u["name"] for u in users], key="admin_reset_name")
        st.text_input("New password", type="password", key="admin_reset_password", placeholder=_OPTIONAL)
        done = "Password of **{0}** reset; their sessions ended."
        inputs = ("admin_reset_name", "admin_reset_password")
        _button("Reset password", ("users", "reset_password", inputs, done, "password"))
    with change, st.container(border=True):
        st.subheader("Disable a user")
        active = [u["name"] for u in users if u["active"]]
        st.selectbox("User", active, key="admin_disable_name")
        gone = ("users", "disable_user", ("admin_disable_name",), "User **{0}** is disabled.")
        _button("Disable user", gone, "they can no longer sign in, and their sessions end now", bool(active))


def _keys_tab(outcome: Outcome | None) -> None:
    _show(outcome, "keys")
    if (listing := _load("keys", "the API keys")) is None:
        return
    keys = listing["items"]
    if keys:
        _table([{**k, "prefix": f"atk_{k['prefix']}…"} for k in keys], _KEYS, "admin_keys_table")
    else:
        missing("No API key yet: other systems (an HRIS, a script) need one.", "Create one below.")
    new, revoke = st.columns(2, gap="large")
    with new, st.form("admin_new_key"):
        st.subheader("New API key")
        st.text_input("Name", key="admin_key_name", placeholder="hris", max_chars=128)
        st.selectbox("Role", state.ROLES, index=1, key="admin_key_role")
        made = "Key **{0}** ({1}) created. Send it in the `X-API-Key` header."
        _button("Create key", ("keys", "create_key", ("admin_key_name", "admin_key_role"), made, "secret"))
    with revoke, st.container(border=True):
        st.subheader("Revoke a key")
        active = [k["name"] for k in keys if k["active"]]
        st.selectbox("Key", active, key="admin_revoke_name")
        gone = ("keys", "revoke_key", ("admin_revoke_name",), "Key **{0}** is revoked.")
        _button("Revoke key", gone, "every system using this key is refused from now on", bool(active))


def _decision(answer: dict[str, Any]) -> Outcome:
    """A promotion's or rollback's answer: the new champion, or the gates' reasons for refusing."""
    version, was = answer["version"], answer.get("previous_champion")
    if not answer["promoted"]:
        reasons = tuple(answer.get("reasons") or [answer["message"]])
        return Outcome("warning", f"Version **{version}** was not promoted; nothing changed. Why:", reasons)
    text = f"Version **{version}** is the champion now" + (f" (it replaces version {was})." if was else ".")
    if answer.get("reload_error"):
        return Outcome("warning", f"{text} But the API could not load it: {answer['reload_error']}")
    return Outcome("success", f"{text} The API serves version {answer.get('serving_version')}.")


def _reloaded(answer: dict[str, Any]) -> Outcome:
    now, was = answer["model_version"], answer.get("previous_version")
    if answer["changed"]:
        return Outcome("success", f"Reloaded: the API serves version **{now}** now (was {was or 'none'}).")
    return Outcome("info", f"Reloaded: the API still serves version **{now}**; the champion did not change.")


def _versions_tab(outcome: Outcome | None) -> None:
    _show(outcome, "versions")
    listing = _load("model_versions", "the model versions")
    if listing is not None and not listing["items"]:
        missing(
            f"Model {listing['model_name']} has no registered version yet: nothing to promote or roll back.",
            "Train one: `attrition train` (it registers a challenger and promotes it through the gates).",
        )
    elif listing is not None:
        _versions(listing["items"])
    st.subheader("Serving")
    st.caption("The API loads the champion once: reload to pick up an alias moved elsewhere (CLI).")
    reload = ("versions", "reload", (), _reloaded)
    st.button("Reload model", icon=":material/refresh:", key="admin_reload", on_click=_run, args=reload)


def _versions(items: list[dict[str, Any]]) -> None:
    by_alias = {alias: v["version"] for v in items for alias in v["aliases"]}
    champion, challenger = by_alias.get(CHAMPION), by_alias.get(CHALLENGER)
    for alias, found in ((CHAMPION, champion), (CHALLENGER, challenger)):
        st.badge(f"{alias}: version {found}" if found else f"no {alias}", color="green" if found else "gray")
    gate = {True: "passed", False: "failed", None: "not recorded"}
    shown = [{**v, **v["metrics"], "aliases": ", ".join(v["aliases"]) or "—"} for v in items]
    rows = [{**v, "gate": gate[v["fairness_passed"]]} for v in shown]
    _table(rows, _VERSIONS, "admin_versions_table")
    tags = {v["version"]: f" ({', '.join(v['aliases'])})" if v["aliases"] else "" for v in items}
    promote, back = st.columns(2, gap="large")
    with promote, st.form("admin_promote"):
        st.subheader("Promote")
        st.caption("Gates: fairness passed, ROC-AUC above the floor, no worse than the champion.")
        default = list(tags).index(challenger) if challenger else 0
        label = lambda v: f"version {v}{tags[v]}"  # noqa: E731
        st.selectbox("Version", list(tags), index=default, format_func=label, key="admin_promote_version")
        st.text_input(_REASON, key="admin_promote_reason", max_chars=500)
        inputs = ("admin_promote_version", "admin_promote_reason")
        _button("Promote", ("versions", "promote", inputs, _decision))
    with back, st.container(border=True):
        st.subheader("Roll back")
        st.caption("Point champion back at the version it replaced.")
        st.text_input(_REASON, key="admin_rollback_reason", max_chars=500)
        back_run = ("versions", "rollback", ("admin_rollback_reason",), _decision)
        _button("Roll back", back_run, "predictions switch to the previous champion at once", bool(champion))


def _audit_tab(outcome: Outcome | None) -> None:
    """Who did what and how it ended, newest first (the CLI's ``attrition audit`` filters further)."""
    ended = st.selectbox("Outcome", (_ANY, "ok", "refused", "failed", "not_found"), key="admin_audit_outcome")
    listing = _load("audit", "the audit log", outcome=None if ended == _ANY else ended, limit=_AUDIT_LIMIT)
    if listing is None:
        return
    events = [{**e, "detail": json.dumps(e["detail"]) if e["detail"] else ""} for e in listing["items"]]
    if not events:
        st.info("No audit events match.", icon=_ICONS["info"])
        return
    _table(events, _AUDIT, "admin_audit_table")
    st.caption(
        f"The newest {_AUDIT_LIMIT} events. Predictions are not audit events: the prediction log "
        "names each one's caller. On the server, `attrition audit --action A --actor X --since D` filters further."
    )


st.title("Admin")
st.caption(
    "Who can sign in, the API keys other systems call with, which model version serves, and who did what."
)
state.require("admin", "The Admin page")
_outcome: Outcome | None = st.session_state.pop(_RESULT, None)
_TABS = {"Users": _users_tab, "API keys": _keys_tab, "Model versions": _versions_tab, "Audit log": _audit_tab}
for _tab, _render in zip(st.tabs(list(_TABS)), _TABS.values(), strict=True):
    with _tab:
        _render(_outcome)
