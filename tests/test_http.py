import pytest

from pipelines.crawl.robots import RobotsCache
from pipelines.http import FetchConfig, Fetcher, FetchError, check_address
from tests.loopback import endless, serve, slow

LOOPBACK = ("127.0.0.1/32",)


def _reason(fetcher, url):
    with pytest.raises(FetchError) as info:
        fetcher.get(url)
    return info.value.reason


def test_loopback_refused_unless_allowed():
    with serve({"/a": (200, {}, b"ok")}) as base:
        assert _reason(Fetcher(), base + "/a") == "blocked_address"
        assert Fetcher(FetchConfig(allowed_networks=LOOPBACK)).get(base + "/a").body == b"ok"


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
                                      read_timeout=0.5))
        assert _reason(fetcher, base + "/big") == "body_too_large"
        assert _reason(fetcher, base + "/slow") in ("timeout", "read_error")


@pytest.mark.parametrize("status,body,allowed", [
    (200, b"User-agent: *\nDisallow: /private/\n", {"/a": True, "/private/x": False}),
    (404, b"", {"/a": True, "/private/x": True}),
    (503, b"", {"/a": False, "/private/x": False}),
])
def test_robots_rules(status, body, allowed):
    with serve({"/robots.txt": (status, {}, body)}) as base:
        robots = RobotsCache(Fetcher(FetchConfig(allowed_networks=LOOPBACK)))
        assert {path: robots.allowed(base + path) for path in allowed} == allowed
