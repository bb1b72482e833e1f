"""The Admin page against a live API (AppTest, no mocked responses): users, API keys, model versions.

Every change made through the page is checked where it matters: a generated password signs in,
a disabled user cannot, a new key opens ``/v1/model`` and a revoked one does not.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from ui_support import APP, DOWN_URL, PASSWORD, World, open_app, texts

from frontend.client import ApiClient, ApiError, Session, SessionExpired

PAGE = str(Path(APP).parent / "app_pages" / "admin.py")


def _admin(world: World) -> AppTest:
    app = open_app(world.api_url, World.user("admin"), "admin.py")
    assert not app.exception, app.exception
    return app


def _frame(app: AppTest, column: str) -> pd.DataFrame:
    """The table of the page that has ``column``."""
    found = [df.value for df in app.dataframe if column in df.value.columns]
    assert len(found) == 1, [list(df.value.columns) for df in app.dataframe]
    return found[0]


def _click(app: AppTest, key: str) -> AppTest:
    app.button(key=key).click().run()
    assert not app.exception, app.exception
    return app


def _sign_in(world: World, name: str, password: str) -> Session:
    api = ApiClient(world.api_url)
    try:
        return api.sign_in(name, password)
    finally:
        api.close()


def _create_user(app: AppTest, role: str = "viewer", password: str = "") -> tuple[str, str]:
    """A new user made through the form: (name, the secret the page shows, or '' if none)."""
    name = f"ui-new-{uuid.uuid4().hex[:8]}"
    app.text_input(key="admin_user_name").input(name)
    app.selectbox(key="admin_user_role").select(role)
    app.text_input(key="admin_user_password").input(password)
    _click(app, "admin_create_user_button")
    return name, (app.code[0].value if app.code else "")


def _disable(app: AppTest, name: str) -> AppTest:
    app.selectbox(key="admin_disable_name").select(name)
    app.checkbox(key="admin_disable_user_confirm").check().run()
    return _click(app, "admin_disable_user_button")


def test_an_admin_sees_four_tabs_and_every_user(ui_world: World) -> None:
    app = _admin(ui_world)
    assert [tab.label for tab in app.tabs] == ["Users", "API keys", "Model versions", "Audit log"]
    users = _frame(app, "last_sign_in_at")
    assert {"ui-admin", "ui-predictor", "ui-viewer"} <= set(users["name"])
    assert users.set_index("name").loc["ui-predictor", "role"] == "predictor"
    assert users["active"].all()
    assert not app.code  # no secret before anything was created


def test_a_created_user_gets_a_password_shown_once_that_signs_in(ui_world: World) -> None:
    app = _admin(ui_world)
    name, password = _create_user(app, role="predictor")
    assert password and len(app.code) == 1
    shown = texts(app)
    assert f"User **{name}** (predictor) created." in shown and "Copy it now: it is not shown again." in shown
    assert name in set(_frame(app, "last_sign_in_at")["name"])  # the table is read after the change
    assert _sign_in(ui_world, name, password).role == "predictor"
    assert password not in map(str, app.session_state.values())
    _click(app, "admin_reload")  # the next action: the secret is gone from the page
    assert not app.code and "Copy it now" not in texts(app)


def test_a_disabled_user_can_no_longer_sign_in(ui_world: World) -> None:
    app = _admin(ui_world)
    name, password = _create_user(app)
    _sign_in(ui_world, name, password)
    app.selectbox(key="admin_disable_name").select(name).run()
    assert app.button(key="admin_disable_user_button").disabled  # not before "I understand"
    _disable(app, name)
    assert f"User **{name}** is disabled." in texts(app)
    assert not _frame(app, "last_sign_in_at").set_index("name").loc[name, "active"]
    assert name not in app.selectbox(key="admin_disable_name").options
    with pytest.raises(ApiError):
        _sign_in(ui_world, name, password)


def test_an_admin_cannot_disable_themselves_and_sees_why(ui_world: World) -> None:
    app = _disable(_admin(ui_world), World.user("admin"))
    assert "You cannot disable your own account: ask another admin to do it." in [e.value for e in app.error]
    assert _frame(app, "last_sign_in_at").set_index("name").loc[World.user("admin"), "active"]


def test_a_weak_password_is_refused_with_the_apis_reason(ui_world: World) -> None:
    app = _admin(ui_world)
    name, secret = _create_user(app, password="short")
    assert not secret
    assert "Password refused: the password must be at least 12 characters." in [e.value for e in app.error]
    assert any("password: expected 12 to" in c.value for c in app.caption)
    assert name not in set(_frame(app, "last_sign_in_at")["name"])


def test_a_reset_password_is_shown_once_and_replaces_the_old_one(ui_world: World) -> None:
    app = _admin(ui_world)
    name, old = _create_user(app)
    app.selectbox(key="admin_reset_name").select(name)
    _click(app, "admin_reset_password_button")
    assert f"Password of **{name}** reset; their sessions ended." in texts(app)
    new = app.code[0].value
    assert new and new != old
    assert _sign_in(ui_world, name, new).user == name
    with pytest.raises(ApiError):
        _sign_in(ui_world, name, old)


def test_a_created_key_works_once_shown_and_revoking_it_locks_it_out(ui_world: World) -> None:
    app = _admin(ui_world)
    name = f"ui-key-{uuid.uuid4().hex[:8]}"
    app.text_input(key="admin_key_name").input(name)
    app.selectbox(key="admin_key_role").select("viewer")
    secret = _click(app, "admin_create_key_button").code[0].value
    assert "Copy it now: it is not shown again." in texts(app)
    assert httpx.get(f"{ui_world.api_url}/v1/model", headers={"X-API-Key": secret}).status_code == 200
    keys = _frame(app, "prefix").set_index("name")
    assert keys.loc[name, "active"] and keys.loc[name, "role"] == "viewer"
    assert secret.startswith(keys.loc[name, "prefix"].rstrip("…"))
    assert secret not in keys.to_csv()  # the table never shows a secret
    app.selectbox(key="admin_revoke_name").select(name)
    app.checkbox(key="admin_revoke_key_confirm").check().run()
    _click(app, "admin_revoke_key_button")
    assert f"Key **{name}** is revoked." in texts(app) and not app.code
    assert not _frame(app, "prefix").set_index("name").loc[name, "active"]
    assert httpx.get(f"{ui_world.api_url}/v1/model", headers={"X-API-Key": secret}).status_code == 401


def test_the_versions_table_shows_version_1_as_champion(ui_world: World) -> None:
    app = _admin(ui_world)
    versions = _frame(app, "roc_auc").set_index("version")
    assert versions.loc["1", "aliases"] == "champion"
    assert versions.loc["1", "gate"] == "passed"
    assert 0.5 < versions.loc["1", "roc_auc"] <= 1
    assert "champion: version 1" in texts(app) and "no challenger" in texts(app)
    assert app.selectbox(key="admin_promote_version").value == "1"


def test_promoting_the_champion_again_is_refused_with_the_gates_reasons(ui_world: World) -> None:
    app = _click(_admin(ui_world), "admin_promote_button")
    warning = "\n".join(w.value for w in app.warning)
    assert "Version **1** was not promoted; nothing changed." in warning
    assert "- version 1 is already the champion" in warning
    assert _frame(app, "roc_auc").set_index("version").loc["1", "aliases"] == "champion"


def test_roll_back_needs_a_confirmation_and_says_there_is_nothing_to_roll_back_to(ui_world: World) -> None:
    app = _admin(ui_world)
    assert app.button(key="admin_rollback_button").disabled
    app.checkbox(key="admin_rollback_confirm").check().run()
    _click(app, "admin_rollback_button")
    assert any("Nothing to roll back to: champion version 1" in e.value for e in app.error)
    assert _frame(app, "roc_auc").set_index("version").loc["1", "aliases"] == "champion"


def test_reload_shows_the_version_served(ui_world: World) -> None:
    app = _click(_admin(ui_world), "admin_reload")
    assert "Reloaded: the API still serves version **1**; the champion did not change." in texts(app)


def test_the_audit_log_shows_who_did_what_and_filters_by_outcome(ui_world: World) -> None:
    app = _click(_admin(ui_world), "admin_reload")
    events = _frame(app, "outcome")
    reload = events[events["action"] == "model.reload"].iloc[0]
    assert (reload["actor"], reload["outcome"]) == ("user:ui-admin", "ok")
    assert '"model_version": "1"' in reload["detail"]
    assert "user.sign_in" in set(events["action"])  # the page's own sign-in
    app.selectbox(key="admin_audit_outcome").select("not_found").run()
    assert not app.exception, app.exception
    assert "No audit events match." in texts(app)


@pytest.mark.parametrize("role", ["viewer", "predictor"])
def test_other_roles_do_not_get_the_admin_page(ui_world: World, role: str) -> None:
    app = open_app(ui_world.api_url, World.user(role))
    assert not app.exception
    assert "Admin" not in {str(info.get("page_name")) for info in app._registered_pages.values()}
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page("app_pages/admin.py")  # the router does not offer it
    page = AppTest.from_file(PAGE, default_timeout=60)  # the page itself refuses too
    page.session_state["session"] = _sign_in(ui_world, World.user(role), PASSWORD)
    page.run()
    assert f"The Admin page needs the admin role; you are signed in as {role}." in texts(page)
    assert not page.dataframe and not page.button


def test_an_api_that_does_not_answer_says_how_to_start_it(ui_world: World) -> None:
    session = _sign_in(ui_world, World.user("admin"), PASSWORD)
    open_app(DOWN_URL)  # points the UI at DOWN_URL
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state["session"] = session
    app.run()
    app.switch_page("app_pages/admin.py").run()
    assert not app.exception
    shown = texts(app)
    assert f"The prediction API at {DOWN_URL} does not answer" in shown and "attrition serve api" in shown
    assert not app.dataframe


def test_no_registered_version_says_how_to_train_one(empty_world: World) -> None:
    app = _admin(empty_world)
    assert "Train one: `attrition train`" in texts(app)
    assert not [df for df in app.dataframe if "roc_auc" in df.value.columns]
    _click(app, "admin_reload")
    assert any("Reload failed: no champion model is registered" in e.value for e in app.error)


def test_an_expired_session_during_a_change_signs_out(ui_world: World) -> None:
    app = _admin(ui_world)
    name, password = _create_user(app, role="admin")
    other = open_app(ui_world.api_url, None)
    other.session_state["session"] = _sign_in(ui_world, name, password)
    other.run()
    other.switch_page("app_pages/admin.py").run()
    _disable(app, name)  # the first admin disables the second one's account
    with pytest.raises(SessionExpired):
        ApiClient(ui_world.api_url, other.session_state["session"].token).users()
    _click(other, "admin_reload")
    assert "session" not in other.session_state
    assert "Your session expired or your account changed. Sign in again." in texts(other)
