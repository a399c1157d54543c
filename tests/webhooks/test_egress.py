"""Outbound webhooks reach public addresses only (SSRF): internal addresses are refused when a
subscription is saved and again on the connected socket; redirects are not followed."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from backend.webhooks import egress, outbound
from backend.webhooks.outbound import SubscriptionInvalid


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
        "fd00::1",
    ],
)
def test_internal_addresses_are_refused(address):
    assert egress.refused_reason(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "114.114.114.114", "2400:3200::1"])
def test_public_addresses_pass(address):
    assert egress.refused_reason(address) is None


@pytest.fixture()
def private_refused(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_TARGETS", False)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hook", "http://localhost/hook", "https://169.254.169.254/latest/meta-data"]
)
def test_subscription_to_an_internal_address_is_refused_when_saved(session, private_refused, url):
    with pytest.raises(SubscriptionInvalid) as refused:
        outbound.create_subscription(session=session, url=url, event_types=["instance.started"])
    assert "只能投递到公网地址" in refused.value.problems["url"]


def test_delivery_to_an_internal_address_is_refused_on_the_socket(receiver):
    # Saved while allowed (or a name that later resolves inward): the connection is refused
    # before anything of the request is sent.
    attempt = outbound.post(receiver.url, b"{}", {"Content-Type": "application/json"}, allow_private=False)
    assert attempt.status_code is None
    assert "拒绝连接" in attempt.error and "127.0.0.1" in attempt.error
    assert receiver.requests == []

    allowed = outbound.post(receiver.url, b"{}", {"Content-Type": "application/json"}, allow_private=True)
    assert allowed.status_code == 200 and len(receiver.requests) == 1


def test_redirects_are_answers_not_followed(receiver):
    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            self.send_response(307)
            self.send_header("Location", receiver.url)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/moved"
        attempt = outbound.post(url, b"{}", {"Content-Type": "application/json"}, allow_private=True)
    finally:
        server.shutdown()
        server.server_close()
    assert attempt.status_code == 307
    assert receiver.requests == []  # the redirect target was never called
