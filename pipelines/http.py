"""HTTP GET with the guards a crawler needs: scheme check, SSRF guard, redirect limit, body cap.

Built on ``requests``. The SSRF guard resolves the host and refuses addresses that are not
globally routable (loopback, private, link-local, multicast, reserved) unless the address is in
one of ``allowed_networks``, and checks again on every redirect. ``PRIVATE_NETWORKS`` (what
``--allow-private-networks`` allows) holds loopback and the private ranges but not link-local,
so cloud metadata addresses such as 169.254.169.254 stay refused. Known gap, left for the
fetch issue: the connection resolves the name a second time (a DNS-rebinding window).
"""
from __future__ import annotations

import dataclasses
import ipaddress
import socket
import urllib.parse

import requests

PRIVATE_NETWORKS = ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                    "fc00::/7")
DEFAULT_USER_AGENT = "OpenWebLI/0.1 (+https://github.com/openwebli; research crawler)"


class FetchError(Exception):
    """A fetch that failed for a countable ``reason`` (used as the rejection reason)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclasses.dataclass(frozen=True)
class Response:
    url: str  # after redirects
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclasses.dataclass(frozen=True)
class FetchConfig:
    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    max_bytes: int = 20_000_000
    max_redirects: int = 5
    allowed_networks: tuple[str, ...] = ()  # CIDRs allowed although not globally routable


def check_address(url: str, allowed_networks: tuple[str, ...] = ()) -> None:
    """Raise FetchError unless ``url`` is http(s) to a host whose addresses may be fetched."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError("unsupported_scheme", parts.scheme)
    if not parts.hostname:
        raise FetchError("bad_url", url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        raise FetchError("dns_error", str(e)) from e
    networks = [ipaddress.ip_network(n) for n in allowed_networks]
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if not addr.is_global and not any(addr in net for net in networks):
            raise FetchError("blocked_address", f"{parts.hostname} → {addr}")


class Fetcher:
    """One per worker; holds a connection pool. ``get`` raises FetchError on any failure."""

    def __init__(self, config: FetchConfig = FetchConfig(), pool_size: int = 10):
        self.config = config
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = config.user_agent

    def get(self, url: str) -> Response:
        for _ in range(self.config.max_redirects + 1):
            check_address(url, self.config.allowed_networks)
            resp = self._request(url)
            if resp.is_redirect and "location" in resp.headers:
                url = urllib.parse.urljoin(url, resp.headers["location"])
                resp.close()
                continue
            return Response(url=url, status=resp.status_code,
                            headers={k.lower(): v for k, v in resp.headers.items()},
                            body=self._read_capped(resp))
        raise FetchError("too_many_redirects", url)

    def _request(self, url: str) -> requests.Response:
        timeout = (self.config.connect_timeout, self.config.read_timeout)
        try:
            return self.session.get(url, timeout=timeout, stream=True, allow_redirects=False)
        except requests.Timeout as e:
            raise FetchError("timeout", str(e)[:200]) from e
        except requests.RequestException as e:
            raise FetchError("connection_error", f"{type(e).__name__}: {e}"[:200]) from e

    def _read_capped(self, resp: requests.Response) -> bytes:
        chunks, total = [], 0
        try:
            for chunk in resp.iter_content(65536):
                total += len(chunk)
                if total > self.config.max_bytes:
                    raise FetchError("body_too_large", f"> {self.config.max_bytes} bytes")
                chunks.append(chunk)
        except requests.RequestException as e:
            raise FetchError("read_error", f"{type(e).__name__}: {e}"[:200]) from e
        finally:
            resp.close()
        return b"".join(chunks)
