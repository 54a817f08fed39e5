"""Who may post: loopback binds need nothing; with --token every request must carry it; browsers are kept out.

The token travels in `X-Agenttrace-Token`. The collector's endpoints also take it as
`Authorization: Bearer TOKEN` (what the Helicone logger sends as its api_key and what OTLP exporters are
easily configured with); the gateway never does, because there `Authorization` is the provider key.

Web pages: a page on any site can POST a "simple" request (text/plain, no preflight) to 127.0.0.1, and a page
on a rebound DNS name is, to the browser, same-origin with us. So a request whose `Origin` is not one the user
allowed (`--allow-origin`) is refused, and so is one whose `Host` is not a name of this server (as Jupyter and
Ollama do): loopback names, the bound address, `--allow-host` names. A server bound to another address needs
a token, which a page cannot know, so there the Host is checked only when `--allow-host` is given.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from starlette.datastructures import Headers

TOKEN_HEADER: Final = "x-agenttrace-token"
BEARER: Final = "bearer "


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def token_problem(token: str) -> str | None:
    """Why a token could never be matched, or None. Header values reach us as latin-1 and are stripped, and
    clients differ in how they encode anything else, so a token is visible ASCII (no spaces)."""
    bad = next((char for char in token if not "!" <= char <= "~"), None)
    if bad is None:
        return None
    return (f"--token may hold only visible ASCII characters (HTTP clients send others differently), "
            f"not {bad!a}")


def _matches(offered: str, token: str) -> bool:
    # Starlette decodes header values as latin-1: these are the bytes the client sent.
    return hmac.compare_digest(offered.encode("latin-1", "replace"), token.encode("ascii", "replace"))


def authorized(headers: Headers, token: str | None, *, bearer_allowed: bool) -> bool:
    """Constant-time comparison against every place the token may be; True when no token is set."""
    if token is None:
        return True
    offered = headers.get(TOKEN_HEADER)
    if offered is not None and _matches(offered, token):
        return True
    if bearer_allowed:
        authorization = headers.get("authorization", "")
        if authorization[: len(BEARER)].lower() == BEARER and _matches(authorization[len(BEARER):].strip(), token):
            return True
    return False


# Browsers ----------------------------------------------------------------------------------------

ANY_ORIGIN: Final = "*"
LOCAL_NAMES: Final = frozenset({"localhost"})
"""Besides loopback addresses and `*.localhost` (which browsers resolve to loopback themselves)."""
CROSS_SITE: Final = frozenset({"cross-site", "same-site"})
"""Sec-Fetch-Site values of a request another page made (same-site: another port of the same host)."""
SHOWN_CHARS: Final = 100


def host_name(host_header: str) -> str:
    """`Name:port`, `[::1]:port` or `name.` as the bare lowercase name (`::1` for IPv6)."""
    text = host_header.strip().lower()
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    return text.rsplit(":", 1)[0].rstrip(".") if text.count(":") <= 1 else text


def normalize_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


@dataclass(frozen=True)
class Exposure:
    """Which browsers' requests and Host names the server answers."""

    allowed_origins: frozenset[str] = frozenset()
    """Normalized `scheme://host[:port]` values; `*` allows any origin."""
    allowed_hosts: frozenset[str] | None = frozenset()
    """Host names answered besides the local ones; None: any Host (a non-loopback bind without --allow-host)."""
    bound: str = "127.0.0.1"

    @classmethod
    def for_bind(cls, bound: str, origins: Iterable[str] = (), hosts: Iterable[str] = ()) -> Exposure:
        names = frozenset(host_name(host) for host in _words(hosts))
        checked = bool(names) or is_loopback(bound)
        return cls(frozenset(normalize_origin(origin) for origin in _words(origins)),
                   names | {host_name(bound)} if checked else None, bound)

    def host_allowed(self, host_header: str) -> bool:
        if self.allowed_hosts is None:
            return True
        name = host_name(host_header)
        return (name in LOCAL_NAMES or name.endswith(".localhost") or name in self.allowed_hosts
                or (_is_ip(name) and is_loopback(name)))

    def origin_allowed(self, origin: str) -> bool:
        return ANY_ORIGIN in self.allowed_origins or normalize_origin(origin) in self.allowed_origins

    def refusal(self, hosts: Sequence[str], origins: Sequence[str], fetch_sites: Sequence[str]) -> str | None:
        """Why a request with these header values is refused (403), or None."""
        host = next((host for host in hosts if not self.host_allowed(host)), None)
        if host is not None:
            return (f"Host {host[:SHOWN_CHARS]!r} is not a name of this server (a guard against DNS rebinding): "
                    "use localhost or 127.0.0.1, or start the server with --allow-host NAME")
        if origins:
            origin = next((origin for origin in origins if not self.origin_allowed(origin)), None)
            if origin is None:
                return None
            return (f"cross-origin request from {origin[:SHOWN_CHARS]!r} refused: a web page may not write "
                    "traces here; start the server with --allow-origin ORIGIN to allow it")
        site = next((site for site in fetch_sites if site.strip().lower() in CROSS_SITE), None)
        if site is not None:
            return (f"cross-site browser request refused (Sec-Fetch-Site: {site[:20]}); start the server "
                    "with --allow-origin ORIGIN to allow a page")
        return None


def _words(values: Iterable[str]) -> list[str]:
    """Repeated options, or an environment variable's list separated by commas or spaces."""
    return [word for value in values for word in value.replace(",", " ").split()]


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
