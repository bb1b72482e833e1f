"""The UI forwards the signing-in browser's address, so failed sign-ins count per person.

Without it every sign-in reaches the API from the UI's own address: one person guessing
passwords would lock everyone out of the UI for a minute (or share one bucket with them).
The API here is ``ui_world``'s real uvicorn server, which trusts X-Forwarded-For from
loopback (its default), as the compose API trusts it from the proxy and the UI.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ui_support import PASSWORD, World

from api.auth import AUTH_FAILURES_PER_MINUTE
from frontend.client import ApiClient, ApiError
from frontend.session import client_address


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("93.184.216.34", None, "93.184.216.34"),  # a browser straight on the UI
        ("93.184.216.34", "10.0.0.1", "93.184.216.34"),  # a public peer cannot pick its address
        ("172.18.0.5", "93.184.216.34", "93.184.216.34"),  # behind the compose proxy
        ("127.0.0.1", "203.0.113.9, 93.184.216.34", "93.184.216.34"),  # only the hop our proxy added counts
        ("127.0.0.1", None, "127.0.0.1"),  # make demo: the browser on this machine
        ("127.0.0.1", " , ", "127.0.0.1"),
        (None, None, None),
        ("not-an-address", "93.184.216.34", "not-an-address"),
    ],
)
def test_the_browser_address_is_the_peer_or_what_our_proxy_forwarded(
    peer: str | None, forwarded: str | None, expected: str | None
) -> None:
    assert client_address(peer, forwarded) == expected


def test_failed_sign_ins_from_one_browser_do_not_lock_out_another(ui_world: World) -> None:
    api = ApiClient(ui_world.api_url)
    try:
        codes: list[int] = []
        while len(codes) < 3 * AUTH_FAILURES_PER_MINUTE and 429 not in codes:  # the bucket refills meanwhile
            with pytest.raises(ApiError) as refused:  # an unknown user: no account gets locked
                api.sign_in("nobody-here", "wrong password", client_address="203.0.113.5")
            codes.append(refused.value.status)
        assert codes[-1] == 429 and set(codes[:-1]) == {401} and len(codes) > AUTH_FAILURES_PER_MINUTE
        with pytest.raises(ApiError) as limited:  # that browser is stopped, even with the right password
            api.sign_in(World.user("viewer"), PASSWORD, client_address="203.0.113.5")
        assert limited.value.status == 429
        session = api.sign_in(World.user("viewer"), PASSWORD, client_address="203.0.113.6")
        assert session.role == "viewer"  # another browser signs in
    finally:
        api.close()


def test_the_proxy_replaces_a_client_sent_x_forwarded_for() -> None:
    conf = (Path(__file__).resolve().parents[1] / "deploy" / "nginx" / "default.conf").read_text()
    assert "$proxy_add_x_forwarded_for" not in conf  # appended, the client's own value would come first
    assert conf.count("proxy_set_header X-Forwarded-For $remote_addr;") == 2
