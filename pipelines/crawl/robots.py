"""robots.txt per host, cached per worker, parsed by protego (RFC 9309).

A 4xx answer for robots.txt means everything is allowed; a 5xx answer or an unreachable host
means everything is disallowed (RFC 9309 §2.3.1.3–4).
"""
from __future__ import annotations

import threading
import urllib.parse

from protego import Protego

from pipelines.http import Fetcher, FetchError

_ALLOW_ALL = Protego.parse("")
_DISALLOW_ALL = Protego.parse("User-agent: *\nDisallow: /")


class RobotsCache:
    """Rules per origin, shared by a worker's fetch threads: one fetch of robots.txt per host."""

    def __init__(self, fetcher: Fetcher, max_hosts: int = 10_000):
        self.fetcher = fetcher
        self.max_hosts = max_hosts
        self._rules: dict[str, Protego] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def allowed(self, url: str) -> bool:
        parts = urllib.parse.urlsplit(url)
        return self._rules_for(f"{parts.scheme}://{parts.netloc}").can_fetch(
            url, self.fetcher.config.user_agent)

    def _rules_for(self, origin: str) -> Protego:
        rules = self._rules.get(origin)
        if rules is not None:
            return rules
        with self._guard:
            lock = self._locks.setdefault(origin, threading.Lock())
        with lock:  # the other threads asking for this host wait for the one fetch
            rules = self._rules.get(origin)
            if rules is None:
                rules = self._fetch(origin)
                with self._guard:
                    if len(self._rules) >= self.max_hosts:
                        self._rules.clear()
                        self._locks = {origin: lock}
                    self._rules[origin] = rules
        return rules

    def _fetch(self, origin: str) -> Protego:
        try:
            resp = self.fetcher.get(origin + "/robots.txt")
        except FetchError:
            return _DISALLOW_ALL
        if 400 <= resp.status < 500:
            return _ALLOW_ALL
        if resp.status >= 500:
            return _DISALLOW_ALL
        return Protego.parse(resp.body.decode("utf-8", errors="replace"))
