"""A small typed client of the prediction API: the only way the UI reaches data.

The UI is its own service: it never opens the database or MLflow. Every call
goes over HTTP with the signed-in user's bearer token, and every failure becomes
one of a few exceptions a page can explain to a person (API down, session
expired, not allowed, not found, the API's own message).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

JSON = dict[str, Any]


class ApiError(Exception):
    """The API answered with an error; ``message`` is its ``error`` text, meant for a person."""

    def __init__(self, status: int, message: str, detail: list[JSON] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail or []


class ApiUnreachable(ApiError):
    """No answer at all: the API is not running or the URL is wrong."""


class SessionExpired(ApiError):
    """401 on a signed-in call: the token expired or the account was disabled."""


class NotAllowed(ApiError):
    """403: the user's role does not allow this."""


class NotFound(ApiError):
    """404: the thing asked for does not exist (yet)."""


class Unavailable(ApiError):
    """503: no champion model loaded, or the API's database is unreachable."""


_BY_STATUS: dict[int, type[ApiError]] = {
    401: SessionExpired,
    403: NotAllowed,
    404: NotFound,
    503: Unavailable,
}


@dataclass(frozen=True)
class Session:
    """A signed-in user: the bearer token, the role, when it expires."""

    user: str
    role: str
    token: str
    expires_at: dt.datetime

    @property
    def expired(self) -> bool:
        return dt.datetime.now(dt.UTC) >= self.expires_at


def _error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = body.get("error") if isinstance(body, dict) else None
    detail = body.get("detail") if isinstance(body, dict) and isinstance(body.get("detail"), list) else []
    text = str(message or f"the API answered {response.status_code} {response.reason_phrase}")
    return _BY_STATUS.get(response.status_code, ApiError)(response.status_code, text, detail)


def _params(values: dict[str, Any]) -> dict[str, Any]:
    """Query parameters without the unset ones (None or empty)."""
    return {k: v for k, v in values.items() if v not in (None, "")}


class ApiClient:
    """The API at ``base_url``, called as one signed-in user (or anonymously, to sign in)."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise ApiUnreachable(0, f"the API at {self.base_url} did not answer in time") from None
        except httpx.TransportError:
            raise ApiUnreachable(0, f"the API at {self.base_url} does not answer") from None
        if response.status_code >= 400:
            raise _error(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._send(method, path, **kwargs).json()

    # -- session -----------------------------------------------------------------
    def sign_in(self, user: str, password: str, client_address: str | None = None) -> Session:
        """Exchange user name and password for a bearer token (401: wrong; 429: locked out).

        ``client_address``: the browser's, forwarded so the API counts failed sign-ins per
        person rather than one bucket for the whole UI (the API trusts it from the UI's host).
        """
        headers = {"X-Forwarded-For": client_address} if client_address else {}
        form = {"username": user, "password": password}
        body = self._json("POST", "/v1/auth/token", data=form, headers=headers)
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=int(body["expires_in"]))
        return Session(user=user, role=str(body["role"]), token=str(body["access_token"]), expires_at=expires)

    def ready(self) -> JSON:
        """``/ready``: whether a champion is loaded and the database answers (no auth)."""
        try:
            response = self._http.get("/ready")
        except httpx.TransportError:
            raise ApiUnreachable(0, f"the API at {self.base_url} does not answer") from None
        body: JSON = response.json()
        return body

    # -- workforce ---------------------------------------------------------------
    def workforce_summary(self, snapshot: str | None = None, **filters: Any) -> JSON:
        return self._json("GET", "/v1/workforce/summary", params=_params({"snapshot": snapshot, **filters}))

    def employees(
        self, snapshot: str | None = None, *, limit: int = 50, cursor: str | None = None, **filters: Any
    ) -> JSON:
        params = _params({"snapshot": snapshot, "limit": limit, "cursor": cursor, **filters})
        return self._json("GET", "/v1/employees", params=params)

    def employee(self, number: int) -> JSON:
        return self._json("GET", f"/v1/employees/{int(number)}")

    def sample_record(self) -> JSON:
        return self._json("GET", "/v1/employees/sample")

    # -- model -------------------------------------------------------------------
    def model(self) -> JSON:
        return self._json("GET", "/v1/model")

    def model_card(self) -> JSON:
        return self._json("GET", "/v1/model/card")

    def model_versions(self) -> JSON:
        return self._json("GET", "/v1/model/versions")

    def predict(self, record: JSON, *, explain: bool = True) -> JSON:
        return self._json("POST", "/v1/predict", params={"explain": str(explain).lower()}, json=record)

    # -- batch scoring -----------------------------------------------------------
    def create_score_job(self, filename: str, content: bytes, *, factors: int = 3) -> JSON:
        files = {"file": (filename, content, "text/csv")}
        return self._json("POST", "/v1/score-jobs", params={"factors": factors}, files=files)

    def score_job(self, job_id: str) -> JSON:
        return self._json("GET", f"/v1/score-jobs/{quote(job_id, safe='')}")

    def score_job_file(self, job_id: str, which: str = "result") -> bytes:
        """The job's ``result`` or ``issues`` CSV (formula cells already neutralised by the API)."""
        return self._send("GET", f"/v1/score-jobs/{quote(job_id, safe='')}/{which}").content

    # -- prediction log ----------------------------------------------------------
    def predictions(self, *, limit: int = 100, offset: int = 0, **filters: Any) -> JSON:
        return self._json(
            "GET", "/v1/predictions", params=_params({"limit": limit, "offset": offset, **filters})
        )

    def feedback(self, prediction_id: str, *, left: bool, outcome_date: dt.date) -> JSON:
        body = {"prediction_id": prediction_id, "left": left, "outcome_date": outcome_date.isoformat()}
        return self._json("POST", "/v1/feedback", json=body)

    # -- drift -------------------------------------------------------------------
    def drift_latest(self) -> JSON:
        return self._json("GET", "/v1/drift/latest")

    def drift_runs(self, *, limit: int = 50, offset: int = 0) -> JSON:
        return self._json("GET", "/v1/drift/runs", params={"limit": limit, "offset": offset})

    def drift_run(self, run_id: str) -> JSON:
        return self._json("GET", f"/v1/drift/runs/{quote(run_id, safe='')}")

    def drift_report_html(self, run_id: str) -> str:
        return self._send("GET", f"/v1/drift/runs/{quote(run_id, safe='')}/report").text

    # -- admin -------------------------------------------------------------------
    def users(self) -> JSON:
        return self._json("GET", "/v1/admin/users")

    def create_user(self, name: str, role: str, password: str | None = None) -> JSON:
        return self._json(
            "POST", "/v1/admin/users", json=_params({"name": name, "role": role, "password": password})
        )

    def disable_user(self, name: str) -> JSON:
        return self._json("POST", f"/v1/admin/users/{quote(name, safe='')}/disable")

    def reset_password(self, name: str, password: str | None = None) -> JSON:
        return self._json(
            "POST",
            f"/v1/admin/users/{quote(name, safe='')}/reset-password",
            json=_params({"password": password}),
        )

    def keys(self) -> JSON:
        return self._json("GET", "/v1/admin/keys")

    def audit(self, *, outcome: str | None = None, limit: int = 200) -> JSON:
        return self._json("GET", "/v1/admin/audit", params=_params({"outcome": outcome, "limit": limit}))

    def create_key(self, name: str, role: str) -> JSON:
        return self._json("POST", "/v1/admin/keys", json={"name": name, "role": role})

    def revoke_key(self, name: str) -> JSON:
        return self._json("POST", f"/v1/admin/keys/{quote(name, safe='')}/revoke")

    def promote(self, version: str | None = None, reason: str | None = None) -> JSON:
        return self._json("POST", "/v1/admin/promote", json=_params({"version": version, "reason": reason}))

    def rollback(self, reason: str | None = None) -> JSON:
        return self._json("POST", "/v1/admin/rollback", json=_params({"reason": reason}))

    def reload(self) -> JSON:
        return self._json("POST", "/v1/admin/reload")
