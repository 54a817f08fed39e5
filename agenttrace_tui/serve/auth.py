"""Who may post: loopback binds need nothing; with --token every request must carry it.

The token travels in `X-Agenttrace-Token`. The collector's endpoints also take it as
`Authorization: Bearer TOKEN` (what the Helicone logger sends as its api_key and what OTLP exporters are
easily configured with); the gateway never does, because there `Authorization` is the provider key.
"""

from __future__ import annotations

import hmac
import ipaddress
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


def _matches(offered: str, token: str) -> bool:
    return hmac.compare_digest(offered.encode("utf-8", "surrogateescape"), token.encode("utf-8"))


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
