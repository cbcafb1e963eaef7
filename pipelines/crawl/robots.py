"""robots.txt per host, cached per worker for at most 24 hours, parsed by protego (RFC 9309).

A 4xx answer for robots.txt means everything is allowed; a 5xx answer or an unreachable host
means everything is disallowed (RFC 9309 §2.3.1.3–4).

The same cache reads ``ai.txt`` (Spawning's robots.txt-syntax file of AI-training opt-outs,
e.g. ``Disallow: *.jpg``) with ``path="/ai.txt"``: a file that is missing, failing or
unreachable allows everything, since most sites have none.
"""
from __future__ import annotations

import collections
import threading
import urllib.parse

from protego import Protego

from pipelines.http import Fetcher, FetchError

_ALLOW_ALL = Protego.parse("")
_DISALLOW_ALL = Protego.parse("User-agent: *\nDisallow: /")


MAX_AGE = 24 * 3600.0  # RFC 9309 §2.4: a cached robots.txt is used for at most 24 hours


class RobotsCache:
    """Rules per origin, shared by a worker's fetch threads: one fetch of robots.txt per host
    every ``max_age`` seconds. At most ``max_hosts`` origins are kept; past that, the one used
    longest ago is dropped (a long crawl meets more hosts than it needs to remember)."""

    def __init__(self, fetcher: Fetcher, max_hosts: int = 10_000, max_age: float = MAX_AGE,
                 path: str = "/robots.txt"):
        self.fetcher = fetcher
        self.path = path
        self._on_failure = _DISALLOW_ALL if path == "/robots.txt" else _ALLOW_ALL
        self.max_hosts = max_hosts
        self.max_age = max_age
        self._rules: collections.OrderedDict[str, tuple[Protego, float]] = collections.OrderedDict()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def allowed(self, url: str) -> bool:
        parts = urllib.parse.urlsplit(url)
        return self._rules_for(f"{parts.scheme}://{parts.netloc}").can_fetch(
            url, self.fetcher.config.user_agent)

    def _fresh(self, origin: str) -> Protego | None:
        """The cached rules of ``origin`` if younger than ``max_age`` (marked as just used)."""
        with self._guard:
            entry = self._rules.get(origin)
            if entry is None or self.fetcher.clock.monotonic() - entry[1] >= self.max_age:
                return None
            self._rules.move_to_end(origin)
            return entry[0]

    def _rules_for(self, origin: str) -> Protego:
        rules = self._fresh(origin)
        if rules is not None:
            return rules
        with self._guard:
            lock = self._locks.setdefault(origin, threading.Lock())
        with lock:  # the other threads asking for this host wait for the one fetch
            rules = self._fresh(origin)
            if rules is None:
                rules = self._fetch(origin)
                self._store(origin, rules)
        return rules

    def _store(self, origin: str, rules: Protego) -> None:
        with self._guard:
            self._rules[origin] = (rules, self.fetcher.clock.monotonic())
            self._rules.move_to_end(origin)
            while len(self._rules) > self.max_hosts:
                evicted, _ = self._rules.popitem(last=False)
                self._locks.pop(evicted, None)

    def __len__(self) -> int:
        return len(self._rules)

    def _fetch(self, origin: str) -> Protego:
        try:
            resp = self.fetcher.get(origin + self.path)
        except FetchError:
            return self._on_failure
        if 400 <= resp.status < 500:
            return _ALLOW_ALL
        if resp.status >= 500:
            return self._on_failure
        return Protego.parse(resp.body.decode("utf-8", errors="replace"))
