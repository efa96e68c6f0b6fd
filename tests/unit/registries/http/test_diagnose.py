"""Transport errors said so the user knows what to change (real errors from loopback sockets)."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest
import requests
from regmirror.registries.http.diagnose import short, transport_problem


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def plain_http() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def error_of(url: str) -> BaseException:
    with pytest.raises(requests.exceptions.RequestException) as caught:
        requests.get(url, timeout=5, verify=True)
    return caught.value


def test_nothing_listening() -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}/v2/"
    assert transport_problem(error_of(url), url).startswith(
        f"nothing listens at 127.0.0.1:{port} (ConnectionError: "
    )


def test_https_to_a_plain_http_registry_says_to_set_insecure(plain_http: str) -> None:
    url = f"https://{plain_http}/v2/"
    problem = transport_problem(error_of(url), url)
    advice = "set `insecure: true` (or `skip-tls-verify: true`) for it ("
    assert problem.startswith(f"the registry speaks plain HTTP, not HTTPS: {advice}"), problem


def test_name_resolution_and_unknown_causes() -> None:
    resolving = requests.exceptions.ConnectionError(socket.gaierror(-2, "Name or service not known"))
    assert transport_problem(resolving, "https://registry.invalid:5000/v2/").startswith(
        "registry.invalid does not resolve (DNS) ("
    )
    odd = requests.exceptions.ConnectionError("something else entirely")
    assert transport_problem(odd, "https://r/v2/") == "ConnectionError: something else entirely"


def test_long_errors_are_cut_at_a_word_boundary() -> None:
    text = " ".join(f"word{n}" for n in range(100))
    cut = short(ValueError(text))
    assert cut.startswith("ValueError: word0 word1")
    assert cut.endswith(" …")
    assert cut.removesuffix(" …").split()[-1].startswith("word")  # a whole word before the mark
    assert len(cut) < 230
    assert short(ValueError("")) == "ValueError"
