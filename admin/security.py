"""What the admin believes about a request: who sent it (the peer, or what a trusted proxy says
in X-Forwarded-For), whether it came over HTTPS, and whether a form was posted from this site
(Origin / Referer). Also the Secure flag of the cookies."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class AdminOptions:
    """The admin's settings about the network it is served on.

    `public_url`: the address people open (https://… makes the cookies Secure).
    `secure_cookie`: True or False as configured; None (not configured): Secure when the public
    URL is https, or when the request itself came over HTTPS (as a trusted proxy says).
    `trusted_proxies`: the peers whose X-Forwarded-For and X-Forwarded-Proto are believed;
    nobody's by default, so a client cannot forge its address past the log-in limits."""

    public_url: str = ""
    secure_cookie: bool | None = None
    trusted_proxies: tuple[Network, ...] = ()

    @property
    def always_secure(self) -> bool:
        if self.secure_cookie is not None:
            return self.secure_cookie
        return self.public_url.lower().startswith("https://")


def parse_networks(value: str) -> tuple[Network, ...]:
    """Addresses or networks separated by spaces or commas ("127.0.0.1 10.0.0.0/8")."""
    networks: list[Network] = []
    for item in value.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"ADMIN_TRUSTED_PROXIES：看不懂 {item!r}（要 IP 地址或网段）") from exc
    return tuple(networks)


def admin_options(settings: Any) -> AdminOptions:
    """The options from the settings (ADMIN_PUBLIC_URL, ADMIN_SECURE_COOKIE,
    ADMIN_TRUSTED_PROXIES). ADMIN_SECURE_COOKIE left unset means "decide": a value that was
    never set is not taken for an explicit false."""
    secure = getattr(settings, "admin_secure_cookie", None)
    fields_set = getattr(settings, "model_fields_set", None)
    if fields_set is not None and "admin_secure_cookie" not in fields_set:
        secure = None
    return AdminOptions(
        public_url=str(getattr(settings, "admin_public_url", "") or "").strip(),
        secure_cookie=secure,
        trusted_proxies=parse_networks(str(getattr(settings, "admin_trusted_proxies", "") or "")),
    )


def _ip(value: str) -> Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(address: Address | None, options: AdminOptions) -> bool:
    return address is not None and any(address in net for net in options.trusted_proxies)


def _peer(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else ""


def _forwarded(headers: Headers, name: str) -> list[str]:
    return [part.strip() for value in headers.getlist(name) for part in value.split(",")]


def client_address(conn: HTTPConnection, options: AdminOptions) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy; then the right-most
    address in X-Forwarded-For that is not itself a trusted proxy (what a client writes into
    the header itself stands left of what its first proxy added, and is never reached)."""
    peer = _peer(conn)
    address = _ip(peer)
    if not _trusted(address, options):
        return peer
    found = peer
    for item in reversed(_forwarded(conn.headers, "x-forwarded-for")):
        hop = _ip(item)
        if hop is None:
            break
        found = str(hop)
        if not _trusted(hop, options):
            break
    return found


def address_key(address: str) -> str:
    """What the per-address limit counts: the address, or for IPv6 its /64 network (one
    subscriber usually holds a whole /64)."""
    ip = _ip(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return "addr:" + str(ipaddress.ip_network(f"{ip}/64", strict=False))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return f"addr:{ip.ipv4_mapped}"
    return "addr:" + (str(ip) if ip is not None else address[:64])


def is_https(conn: HTTPConnection, options: AdminOptions) -> bool:
    if conn.url.scheme in ("https", "wss"):
        return True
    if not _trusted(_ip(_peer(conn)), options):
        return False
    protos = _forwarded(conn.headers, "x-forwarded-proto")
    return bool(protos) and protos[-1].lower() == "https"


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL, or None when it is not an http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def same_site(conn: HTTPConnection, options: AdminOptions) -> bool:
    """Whether a state-changing request comes from a page of this site: its Origin (or, without
    one, its Referer) names the host the request was sent to, or the configured public URL.
    Programs that send neither are left to the CSRF token; "null" (a sandboxed or privacy-
    stripped origin) is refused."""
    claimed = conn.headers.get("origin")
    if claimed is None:
        claimed = conn.headers.get("referer")
        if claimed is None:
            return True
    if claimed.strip().lower() == "null":
        return False
    origin = _origin_of(claimed.strip())
    if origin is None:
        return False
    allowed: list[tuple[str, int | None]] = []
    public = _origin_of(options.public_url) if options.public_url else None
    if public is not None:
        allowed.append((public[1], public[2]))
    host = conn.headers.get("host", "")
    try:
        here = urlsplit("//" + host)
        here_port = here.port
    except ValueError:
        here, here_port = None, None
    if here is not None and here.hostname:
        # Without a port in Host, the request came on the default port of the scheme the
        # browser used (behind a TLS proxy: https, though it reaches us as http).
        allowed.append((here.hostname.lower(), here_port))
    _, origin_host, origin_port = origin
    for allowed_host, allowed_port in allowed:
        if origin_host != allowed_host:
            continue
        if allowed_port is None:
            if origin_port == _DEFAULT_PORTS[origin[0]]:
                return True
        elif origin_port == allowed_port:
            return True
    return False


class SecureCookies:
    """Adds the Secure flag to every cookie set on a request that came over HTTPS (directly, or
    as a trusted proxy says): installed when the options leave it to be decided per request."""

    def __init__(self, app: ASGIApp, options: AdminOptions) -> None:
        self.app = app
        self.options = options

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_https(HTTPConnection(scope), self.options):
            await self.app(scope, receive, send)
            return

        async def send_secure(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                cookies = headers.getlist("set-cookie")
                if cookies:
                    del headers["set-cookie"]
                    for cookie in cookies:
                        flags = [f.strip().lower() for f in cookie.split(";")[1:]]
                        headers.append(
                            "set-cookie", cookie if "secure" in flags else cookie + "; secure"
                        )
            await send(message)

        await self.app(scope, receive, send_secure)


__all__ = [
    "AdminOptions",
    "SecureCookies",
    "address_key",
    "admin_options",
    "client_address",
    "is_https",
    "parse_networks",
    "same_site",
]
