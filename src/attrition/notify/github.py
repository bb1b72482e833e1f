"""A small GitHub REST client for the drift issues: find the open issue of a label, open one, comment.

The open issue is looked up with the issues endpoint (``GET /repos/{repo}/issues?labels=...``),
not the search API, whose index lags behind new issues (a second run would open a duplicate).
With ``dry_run`` the writes are recorded in ``planned`` and never sent; reads still go out.
The token goes in the Authorization header only: no message, log line or repr shows it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

logger = logging.getLogger(__name__)

API_URL = "https://api.github.com"
#: A repository as GITHUB_REPOSITORY names it.
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
#: Where a dry run without GITHUB_REPOSITORY says it would write.
PLACEHOLDER_REPO = "OWNER/REPO"


class GitHubError(Exception):
    """GitHub could not be reached, refused a request, or is not configured (the message says which)."""


@dataclass(frozen=True)
class GitHubTarget:
    """Where to talk to and as whom: ``GITHUB_API_URL``, ``GITHUB_REPOSITORY``, ``GITHUB_TOKEN``."""

    api_url: str = API_URL
    repo: str | None = None
    token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GitHubTarget:
        """The target the Actions runner describes (empty variables count as unset)."""
        return cls(
            api_url=(env.get("GITHUB_API_URL") or API_URL).rstrip("/"),
            repo=env.get("GITHUB_REPOSITORY") or None,
            token=env.get("GITHUB_TOKEN") or None,
        )

    def check(self, *, writes: bool) -> None:
        """Raise a GitHubError naming the missing or malformed variable; the token is needed to write."""
        if self.repo is not None and not _REPO.match(self.repo):
            raise GitHubError(f"GITHUB_REPOSITORY must look like owner/name, got {self.repo!r}")
        if writes and self.repo is None:
            raise GitHubError("GITHUB_REPOSITORY is not set (expected owner/name); use --dry-run to preview")
        if writes and self.token is None:
            raise GitHubError(
                "GITHUB_TOKEN is not set (a token allowed to write issues); use --dry-run to preview"
            )


@dataclass(frozen=True)
class Issue:
    number: int
    url: str
    title: str


@dataclass(frozen=True)
class WriteRequest:
    """A write the client made, or (dry run) would have made."""

    method: str
    url: str
    body: dict[str, Any]


class GitHubClient:
    """Issues of one repository; ``dry_run`` records writes in ``planned`` instead of sending them."""

    def __init__(self, target: GitHubTarget, *, dry_run: bool = False, timeout: float = 30.0) -> None:
        target.check(writes=not dry_run)
        self.target, self.dry_run = target, dry_run
        self.repo = target.repo or PLACEHOLDER_REPO
        self.planned: list[WriteRequest] = []
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if target.token:
            headers["Authorization"] = f"Bearer {target.token}"
        self._http = httpx.Client(base_url=target.api_url, headers=headers, timeout=timeout)

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._http.close()

    @property
    def can_read(self) -> bool:
        """A dry run without GITHUB_REPOSITORY has no repository to look in."""
        return self.target.repo is not None

    def open_issue(self, label: str) -> Issue | None:
        """The newest open issue (not pull request) carrying ``label``, or None."""
        items = self._send(
            "GET",
            f"/repos/{self.repo}/issues",
            params={
                "labels": label,
                "state": "open",
                "sort": "created",
                "direction": "desc",
                "per_page": 100,
            },
        )
        if not isinstance(items, list):
            raise GitHubError(f"GitHub's issue list for {self.repo} is not a list: {str(items)[:200]}")
        for item in items:
            if "pull_request" not in item:
                return Issue(int(item["number"]), str(item.get("html_url", "")), str(item.get("title", "")))
        return None

    def create_issue(self, title: str, body: str, labels: list[str]) -> Issue | None:
        """Open an issue; None in a dry run."""
        made = self._write(f"/repos/{self.repo}/issues", {"title": title, "body": body, "labels": labels})
        return None if made is None else Issue(int(made["number"]), str(made.get("html_url", "")), title)

    def comment(self, number: int, body: str) -> str | None:
        """Comment on issue ``number``; the comment's URL, None in a dry run."""
        made = self._write(f"/repos/{self.repo}/issues/{number}/comments", {"body": body})
        return None if made is None else str(made.get("html_url", ""))

    def _write(self, path: str, body: dict[str, Any]) -> Any:
        request = WriteRequest("POST", f"{self.target.api_url}{path}", body)
        self.planned.append(request)
        if self.dry_run:
            return None
        return self._send("POST", path, json=body)

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise GitHubError(
                f"cannot reach GitHub at {self.target.api_url}: {type(exc).__name__}: {exc}"
            ) from exc
        if response.status_code >= 400:
            raise GitHubError(
                f"GitHub answered {method} {path} with {response.status_code}: {_message(response)}"
            )
        logger.info("GitHub %s %s: %s", method, path, response.status_code)
        try:
            return response.json()
        except ValueError as exc:
            raise GitHubError(
                f"GitHub's answer to {method} {path} is not JSON: {response.text[:200]!r}"
            ) from exc


def _message(response: httpx.Response) -> str:
    """GitHub's own words: ``message`` plus the ``errors`` a 422 lists, else the start of the body."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if not isinstance(data, dict):
        return str(data)[:300]
    text = str(data.get("message") or response.reason_phrase)
    errors = data.get("errors") or []
    details = [
        e.get("message") or f"{e.get('field')} {e.get('code')}" if isinstance(e, dict) else str(e)
        for e in errors
    ]
    return f"{text} ({'; '.join(details)})" if details else text
