"""Behind a reverse proxy (反向代理): who the client is and whether it came over HTTPS.

Never trusted by default. With ``trusted_proxies`` set (addresses or networks, comma-separated),
a request whose TCP peer is one of them is taken at its word: its ``X-Forwarded-For`` is read from
the right, skipping trusted addresses, and the first other address is the client; its
``X-Forwarded-Proto`` (the last value) says whether the client used HTTPS. The middleware clones
the request with that ``remote`` and ``scheme``, so throttling, the audit log, upload records
(collusion leads) and the cookie's ``Secure`` flag all see the real client. From any other peer
these headers are ignored: a client cannot claim another address.
"""

from __future__ import annotations

import ipaddress
import logging

from aiohttp import web

from web.config import ConfigError
from web.errors import Handler

log = logging.getLogger("pingbiao.web")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
TRUSTED = web.AppKey("trusted_proxies", tuple)
FORWARDED_HTTPS = web.RequestKey("forwarded_https", bool)


def is_https(request: web.Request) -> bool:
    """Whether the client used HTTPS: TLS here, or a trusted proxy's X-Forwarded-Proto."""
    return request.secure or bool(request.get(FORWARDED_HTTPS))


def parse_networks(text: str) -> tuple[Network, ...]:
    """``"10.0.0.1, 192.168.0.0/16"`` → networks; ConfigError naming a bad entry."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(f"设置 trusted_proxies 中有无效的 IP 地址或网段 setting trusted_proxies: {part!r} is not an IP address or network") from None
    return tuple(out)


def _trusted(address: str | None, networks: tuple[Network, ...]) -> bool:
    if not address or not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in networks)


def forwarded_client(peer: str | None, forwarded_for: str, networks: tuple[Network, ...]) -> str | None:
    """The client address behind trusted proxies (None: keep the peer). Pure."""
    if not _trusted(peer, networks):
        return None
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if hop.startswith("[") and "]" in hop:  # [v6]:port
            hop = hop[1:hop.index("]")]
        elif hop.count(":") == 1:  # v4:port
            hop = hop.split(":", 1)[0]
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return None  # a malformed chain: trust nothing in it
        if not _trusted(hop, networks):
            return hop
    return None


@web.middleware
async def proxy_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    networks: tuple[Network, ...] = request.app[TRUSTED]
    if networks and _trusted(request.remote, networks):
        changes: dict[str, str] = {}
        if (client := forwarded_client(request.remote, request.headers.get("X-Forwarded-For", ""), networks)) is not None:
            changes["remote"] = client
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[-1].strip().lower()
        if proto in ("http", "https"):
            changes["scheme"] = proto
        if changes:
            request[FORWARDED_HTTPS] = changes.get("scheme") == "https"  # for headers set on the original
            request = request.clone(**changes)
    return await handler(request)


def install_proxies(app: web.Application, trusted_proxies: str) -> None:
    app[TRUSTED] = parse_networks(trusted_proxies)
    if app[TRUSTED]:
        log.info("trusting X-Forwarded-For/-Proto from proxies", extra={"proxies": trusted_proxies})
