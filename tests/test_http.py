import time

import pytest

from pipelines.crawl.robots import RobotsCache
from pipelines.http import FetchConfig, Fetcher, FetchError, check_address, retry_after_seconds
from tests.loopback import FakeClock, endless, serve, slow

LOOPBACK = ("127.0.0.1/32",)


def _reason(fetcher, url):
    with pytest.raises(FetchError) as info:
        fetcher.get(url)
    return info.value.reason


def test_loopback_refused_unless_allowed():
    with serve({"/a": (200, {}, b"ok")}) as base:
        assert _reason(Fetcher(), base + "/a") == "blocked_address"
        assert Fetcher(FetchConfig(allowed_networks=LOOPBACK)).get(base + "/a").body == b"ok"


# These addresses are refused by check_address before any connection is made (IP literals
# resolve locally): nothing here sends traffic anywhere but 127.0.0.1.
@pytest.mark.parametrize("url,reason", [
    ("ftp://example.com/x", "unsupported_scheme"),
    ("file:///etc/passwd", "unsupported_scheme"),
    ("http://169.254.169.254/latest/meta-data", "blocked_address"),
    ("http://10.0.0.1/", "blocked_address"),
    ("http://[::1]/", "blocked_address"),
])
def test_ssrf_guard_without_connecting(url, reason):
    with pytest.raises(FetchError) as info:
        check_address(url)
    assert info.value.reason == reason


def test_redirect_to_metadata_address_refused():
    routes = {"/r": (302, {"Location": "http://169.254.169.254/latest/meta-data"}, b""),
              "/loop": (302, {"Location": "/loop"}, b"")}
    with serve(routes) as base:
        fetcher = Fetcher(FetchConfig(allowed_networks=LOOPBACK, max_redirects=3))
        assert _reason(fetcher, base + "/r") == "blocked_address"
        assert _reason(fetcher, base + "/loop") == "too_many_redirects"


def test_endless_body_capped_and_slow_server_timed_out():
    routes = {"/big": (200, {"Content-Type": "image/jpeg"}, endless),
              "/slow": (200, {}, slow)}
    with serve(routes) as base:
        fetcher = Fetcher(FetchConfig(allowed_networks=LOOPBACK, max_bytes=1_000_000,
                                      read_timeout=0.5), clock=FakeClock().clock())
        assert _reason(fetcher, base + "/big") == "body_too_large"
        assert _reason(fetcher, base + "/slow") in ("timeout", "read_error")


@pytest.mark.parametrize("status,body,allowed", [
    (200, b"User-agent: *\nDisallow: /private/\n", {"/a": True, "/private/x": False}),
    (404, b"", {"/a": True, "/private/x": True}),
    (503, b"", {"/a": False, "/private/x": False}),
])
def test_robots_rules(status, body, allowed):
    with serve({"/robots.txt": (status, {}, body)}) as base:
        robots = RobotsCache(Fetcher(FetchConfig(allowed_networks=LOOPBACK),
                                     clock=FakeClock().clock()))  # 503 is retried: no real waits
        assert {path: robots.allowed(base + path) for path in allowed} == allowed


def _flaky(status: int, headers: dict, failures: int):
    """A route that answers ``status`` ``failures`` times, then 200; ``calls`` counts requests."""
    calls = []

    def route(_handler):
        calls.append(1)
        if len(calls) <= failures:
            return status, headers, b""
        return 200, {}, b"ok"

    return route, calls


def test_429_waits_for_retry_after_then_succeeds():
    route, calls = _flaky(429, {"Retry-After": "7"}, failures=1)
    clock = FakeClock()
    with serve({"/r": route}) as base:
        fetcher = Fetcher(FetchConfig(allowed_networks=LOOPBACK, max_retries=2), clock=clock.clock())
        resp = fetcher.get(base + "/r")
    assert (resp.status, resp.body, len(calls)) == (200, b"ok", 2)
    assert clock.sleeps == [7.0]  # what the server asked for, not the backoff (0.5 s)


def test_503_backs_off_exponentially_then_gives_up():
    route, calls = _flaky(503, {}, failures=10)
    clock = FakeClock()
    with serve({"/r": route}) as base:
        config = FetchConfig(allowed_networks=LOOPBACK, max_retries=3, backoff_seconds=0.1)
        assert Fetcher(config, clock=clock.clock()).get(base + "/r").status == 503
    assert len(calls) == 4 and clock.sleeps == [0.1, 0.2, 0.4]  # none after the last try


def test_refused_connection_backs_off_then_gives_up():
    """A refused connection is a ``connection_error`` (urllib3 2 makes NewConnectionError a
    ConnectTimeoutError: it was counted as ``timeout``), retried with backoff."""
    import socket

    clock = FakeClock()
    with socket.socket() as bound:  # bound, never listening: connections are refused at once
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}/r"
        config = FetchConfig(allowed_networks=LOOPBACK, max_retries=2, backoff_seconds=0.25)
        assert _reason(Fetcher(config, clock=clock.clock()), url) == "connection_error"
    assert clock.sleeps == [0.25, 0.5]


def test_too_long_retry_after_is_not_waited_for():
    route, calls = _flaky(429, {"Retry-After": "3600"}, failures=10)
    clock = FakeClock()
    with serve({"/r": route}) as base:
        fetcher = Fetcher(FetchConfig(allowed_networks=LOOPBACK), clock=clock.clock())
        assert fetcher.get(base + "/r").status == 429
    assert len(calls) == 1 and clock.sleeps == []


def test_requests_to_one_host_are_paced():
    """Three requests at once wait 0, 0.2 and 0.4 s; a request after a long pause waits not at
    all; another host has its own schedule."""
    route, calls = _flaky(200, {}, failures=0)
    clock = FakeClock()
    with serve({"/r": route}) as base, serve({"/r": route}) as other:
        fetcher = Fetcher(FetchConfig(allowed_networks=LOOPBACK, host_interval=0.2),
                          clock=clock.clock())
        for _ in range(3):
            fetcher.get(base + "/r")
        assert clock.sleeps == [0.2, 0.2] and clock.now == pytest.approx(1000.4)
        fetcher.get(other + "/r")  # a second port is a second host
        assert clock.sleeps == [0.2, 0.2]
        clock.advance(5.0)
        fetcher.get(base + "/r")
    assert clock.sleeps == [0.2, 0.2] and len(calls) == 5


def test_retry_after_http_date():
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None and retry_after_seconds("5") == 5.0


def test_robots_txt_fetched_once_per_host_across_threads():
    from concurrent.futures import ThreadPoolExecutor

    def slow_robots(_handler):
        calls.append(1)
        time.sleep(0.2)
        return 200, {}, b"User-agent: *\nDisallow: /private/\n"

    calls = []
    with serve({"/robots.txt": slow_robots}) as base:
        robots = RobotsCache(Fetcher(FetchConfig(allowed_networks=LOOPBACK), pool_size=16))
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(robots.allowed, [f"{base}/a{i}" for i in range(32)]))
    assert all(answers) and len(calls) == 1


def _counted_robots(body: bytes):
    """A robots.txt route serving ``rules[0]`` (change it to change the rules); ``calls``."""
    rules, calls = [body], []

    def route(_handler):
        calls.append(1)
        return 200, {}, rules[0]

    return route, calls, rules


def test_robots_txt_is_fetched_again_after_24_hours():
    """RFC 9309 §2.4: a cached robots.txt is used for at most 24 hours; until then, never
    fetched again, and changed rules apply once it is."""
    route, calls, rules = _counted_robots(b"User-agent: *\nDisallow: /private/\n")
    clock = FakeClock()
    with serve({"/robots.txt": route}) as base:
        fetcher = Fetcher(FetchConfig(allowed_networks=LOOPBACK), clock=clock.clock())
        robots = RobotsCache(fetcher)
        assert not robots.allowed(base + "/private/a") and robots.allowed(base + "/a")
        rules[0] = b"User-agent: *\nDisallow: /\n"
        clock.advance(24 * 3600 - 1)
        assert robots.allowed(base + "/a") and len(calls) == 1  # still the cached rules
        clock.advance(1)
        assert not robots.allowed(base + "/a") and len(calls) == 2


def test_robots_cache_drops_the_host_used_longest_ago():
    route, calls, _ = _counted_robots(b"User-agent: *\nAllow: /\n")
    with serve({"/robots.txt": route}) as a, serve({"/robots.txt": route}) as b, \
            serve({"/robots.txt": route}) as c:
        robots = RobotsCache(Fetcher(FetchConfig(allowed_networks=LOOPBACK)), max_hosts=2)
        for url in (a, b, a, c):  # c evicts b, used longer ago than a
            assert robots.allowed(url + "/x")
        assert len(robots) == 2 and len(calls) == 3
        robots.allowed(a + "/y")  # still cached
        assert len(calls) == 3
        robots.allowed(b + "/y")  # fetched again (and evicts c)
        assert len(calls) == 4 and len(robots) == 2
        robots.allowed(a + "/z")
        assert len(calls) == 4


def test_connects_to_the_checked_address_not_a_second_resolution(monkeypatch):
    """DNS rebinding: the name first resolves to an allowed address, then to another. The
    connection must go to the first (checked) one; nothing ever connects to the second."""
    import socket

    real = socket.getaddrinfo
    answers = iter(["127.0.0.1"])  # one answer; any later resolution of the name gets 10.x

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.test":
            host = next(answers, "10.255.255.1")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with serve({"/a": (200, {}, b"ok")}) as base:
        port = base.rsplit(":", 1)[1]
        fetcher = Fetcher(FetchConfig(allowed_networks=LOOPBACK, connect_timeout=1, max_retries=0))
        assert fetcher.get(f"http://rebind.test:{port}/a").body == b"ok"
        # A second check resolves to 10.255.255.1, which is refused before any connection.
        fresh = Fetcher(FetchConfig(allowed_networks=LOOPBACK, max_retries=0))
        assert _reason(fresh, f"http://rebind.test:{port}/a") == "blocked_address"


def test_international_domain_name_is_fetched(monkeypatch):
    """An IDN host: checked by its Unicode name, connected to by the checked address."""
    import socket

    real = socket.getaddrinfo
    names = {"bücher.test", "xn--bcher-kva.test"}
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: real(
        "127.0.0.1" if host in names else host, port, *a, **k))
    with serve({"/a": (200, {}, b"ok")}) as base:
        port = base.rsplit(":", 1)[1]
        fetcher = Fetcher(FetchConfig(allowed_networks=LOOPBACK, max_retries=0))
        assert fetcher.get(f"http://bücher.test:{port}/a").body == b"ok"


def test_per_host_concurrency_limit():
    import threading
    from concurrent.futures import ThreadPoolExecutor

    in_flight, peak, lock = [0], [0], threading.Lock()

    def counting(handler):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.05)
        with lock:
            in_flight[0] -= 1
        return 200, {}, b"ok"

    with serve({"/a": counting}) as base:
        fetcher = Fetcher(FetchConfig(allowed_networks=LOOPBACK, max_per_host=2), pool_size=8)
        with ThreadPoolExecutor(8) as pool:
            bodies = [r.body for r in pool.map(fetcher.get, [base + "/a"] * 16)]
        assert bodies == [b"ok"] * 16
    assert peak[0] == 2  # the threaded server took 2 at once, never more


def test_a_hosts_checked_address_is_reused_for_a_minute(monkeypatch):
    """One lookup per host, not one per request; after the TTL the name is checked again."""
    import socket

    import pipelines.http as http

    real, lookups = socket.getaddrinfo, []

    def counting(host, port, *args, **kwargs):
        if host == "cached.test":
            lookups.append(host)
            host = "127.0.0.1"
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    with serve({"/a": (200, {}, b"ok")}) as base:
        port = base.rsplit(":", 1)[1]
        clock = FakeClock()
        fetcher = Fetcher(FetchConfig(allowed_networks=LOOPBACK, max_retries=0),
                          clock=clock.clock())
        for _ in range(3):
            assert fetcher.get(f"http://cached.test:{port}/a").body == b"ok"
        clock.advance(http.ADDRESS_TTL - 0.001)
        fetcher.get(f"http://cached.test:{port}/b")
        assert len(lookups) == 1
        clock.advance(0.001)  # a minute since the lookup: checked again
        fetcher.get(f"http://cached.test:{port}/a")
        assert len(lookups) == 2


def test_https_certificate_is_verified(tmp_path):
    """A server whose certificate no trusted authority signed is refused, not fetched."""
    import ssl
    import subprocess
    import threading
    from http.server import ThreadingHTTPServer

    from tests.loopback import _Handler

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    handler = type("Handler", (_Handler,), {"routes": {"/a": (200, {}, b"secret")}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}/a"
        fetcher = Fetcher(FetchConfig(allowed_networks=LOOPBACK, max_retries=0))
        with pytest.raises(FetchError) as refused:
            fetcher.get(url)
        assert refused.value.reason == "connection_error" and "CERTIFICATE" in refused.value.detail
        import urllib3  # the server itself works for a client that trusts its certificate

        assert urllib3.PoolManager(ca_certs=str(cert)).request("GET", url).data == b"secret"
    finally:
        server.shutdown()
