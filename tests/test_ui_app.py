"""The UI's sign-in, sign-out and navigation against a live API (AppTest, no mocked responses)."""

from __future__ import annotations

import datetime as dt

from streamlit.testing.v1 import AppTest
from ui_support import DOWN_URL, PASSWORD, World, open_app, texts

from attrition.db.engine import create_db_engine
from attrition.users import create_user, disable_user
from frontend.client import ApiClient, Session

ALL_PAGES = {
    "Workforce overview",
    "Employee risk",
    "Batch scoring",
    "Prediction log",
    "Model",
    "Drift",
    "Admin",
}


def _sign_in(app: AppTest, user: str, password: str) -> AppTest:
    app.text_input[0].input(user)
    app.text_input[1].input(password)
    return app.button[0].click().run()


def _pages(app: AppTest) -> set[str]:
    """The page titles offered in the navigation of the last run."""
    return {str(info.get("page_name")) for info in app._registered_pages.values()}


def test_signed_out_shows_only_the_sign_in_form(ui_world: World) -> None:
    app = open_app(ui_world.api_url)
    assert not app.exception
    assert [t.label for t in app.text_input] == ["User name", "Password"]
    assert app.text_input[1].proto.type == app.text_input[1].proto.PASSWORD  # masked
    shown = texts(app)
    assert "Sign in" in shown and "Workforce" not in shown
    assert not app.metric and not app.dataframe  # nothing about employees before sign-in


def test_wrong_password_is_refused_with_a_message(ui_world: World) -> None:
    app = _sign_in(open_app(ui_world.api_url), World.user("viewer"), "not-the-password-1")
    assert not app.exception
    assert "Wrong user name or password" in texts(app)
    assert "session" not in app.session_state


def test_sign_in_keeps_the_token_in_session_state_and_sign_out_drops_it(ui_world: World) -> None:
    app = _sign_in(open_app(ui_world.api_url), World.user("viewer"), PASSWORD)
    assert not app.exception
    session = app.session_state["session"]
    assert isinstance(session, Session) and session.role == "viewer" and session.token
    assert "Signed in as **ui-viewer** · viewer" in texts(app)
    assert not app.query_params  # the token never goes into the URL
    app.sidebar.button(key="sign_out").click().run()
    assert "session" not in app.session_state
    assert "You are signed out." in texts(app)
    assert [t.label for t in app.text_input] == ["User name", "Password"]


def test_each_role_is_offered_only_its_pages(ui_world: World) -> None:
    offered = {
        role: _pages(open_app(ui_world.api_url, World.user(role)))
        for role in ("viewer", "predictor", "admin")
    }
    assert offered["admin"] == ALL_PAGES
    assert offered["predictor"] == ALL_PAGES - {"Admin"}
    assert offered["viewer"] == ALL_PAGES - {"Admin", "Batch scoring"}


def test_an_expired_token_signs_out_with_a_note(ui_world: World) -> None:
    api = ApiClient(ui_world.api_url)
    session = api.sign_in(World.user("viewer"), PASSWORD)
    api.close()
    app = AppTest.from_file(open_app(ui_world.api_url)._script_path, default_timeout=60)
    app.session_state["session"] = Session(
        session.user, session.role, session.token, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    )
    app.run()
    assert not app.exception
    assert "Your session expired. Sign in again." in texts(app)
    assert "session" not in app.session_state


def test_a_disabled_account_is_signed_out_at_its_next_call(ui_world: World) -> None:
    engine = create_db_engine(ui_world.settings.db_url)
    create_user(engine, "ui-leaver", "viewer", PASSWORD, actor="ui-tests")
    app = open_app(ui_world.api_url, "ui-leaver")
    assert not app.exception and "session" in app.session_state
    disable_user(engine, "ui-leaver", actor="ui-tests")
    engine.dispose()
    app.run()  # the landing page calls the API with the now refused token
    assert not app.exception
    assert "session" not in app.session_state
    assert "Sign in again" in texts(app)


def test_sign_in_with_the_api_down_says_how_to_start_it() -> None:
    app = _sign_in(open_app(DOWN_URL), "ui-viewer", PASSWORD)
    assert not app.exception
    shown = texts(app)
    assert f"The prediction API at {DOWN_URL} does not answer" in shown and "attrition serve api" in shown
