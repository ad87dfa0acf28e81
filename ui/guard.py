"""Which requests `rag serve` takes: those addressed to a name it answers to, and writes only from its own page.

DNS rebinding: a page on another site whose name the attacker makes resolve to 127.0.0.1 reaches the server
as its own origin, and Gradio's CORS check then lets it read every answer. So a request whose Host is not a
name the server is bound to (all of loopback's names for a loopback bind) or one RAG_ALLOWED_HOSTS lists is
refused with 400, before Gradio's routes see it.

Cross-site writes: another site's page can POST a file to /gradio_api/upload without a preflight (a form, or
a multipart fetch), and Gradio stores it. So a request that may change something (any method but GET, HEAD
and OPTIONS) whose Origin, or Referer when it sends no Origin, is not this page's own is refused with 403.
curl and gradio_client send neither header: they are not affected.

The server's token (RAG_API_TOKEN): ServerToken, the one check of it that the JSON API's routes and the page's
library changes share.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
EVERY_INTERFACE = frozenset({"0.0.0.0", "::", ""})  # a bind on these answers on every interface, under any name
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # what a page may send from any site: reads only
DEFAULT_PORTS = {"http": 80, "https": 443}
ALLOWED_HOSTS_SETTING = "RAG_ALLOWED_HOSTS"


def bare_host(name: str) -> str:
    """A host as compared here: lower case, an IPv6 address without its brackets."""
    return name.strip().lower().removeprefix("[").removesuffix("]")


def allowed_hosts(bound: str, listed: Iterable[str] = ()) -> frozenset[str] | None:
    """The names a request may be addressed to: the host the server is bound to (every loopback name for a
    loopback bind) and the LISTED ones; None (any name) for a bind on every interface, the user's choice."""
    host = bare_host(bound)
    if host in EVERY_INTERFACE:
        return None
    names = {host, *(bare_host(name) for name in listed)}
    if is_loopback(host):
        names |= LOOPBACK_NAMES
    return frozenset(names)


def shown(hosts: Iterable[str]) -> str:
    """Host names as a URL writes them (an IPv6 address in brackets), in order."""
    return ", ".join(f"[{h}]" if ":" in h else h for h in sorted(hosts))


def is_loopback(name: str) -> bool:
    """Whether a host name or address (an IPv6 one with or without brackets) is this machine's loopback."""
    host = bare_host(name)
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        return False


def _host_and_port(netloc: str, scheme: str = "http") -> tuple[str, int] | None:
    """The host and port a Host header or an origin's netloc names; None when it is not one (userinfo, a path,
    a bad port)."""
    if not netloc or any(c in netloc for c in "@/\\?# \t"):
        return None
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname, port if port is not None else DEFAULT_PORTS.get(scheme, 80)


def _split(url: str) -> SplitResult | None:
    try:
        return urlsplit(url)
    except ValueError:  # a bracket that is no IPv6 address
        return None


def _origin_of(headers: Headers) -> str | None:
    """Where the request's page is from: its Origin, else its Referer's scheme and host; None when it sends neither."""
    origin = headers.get("origin")
    if origin is not None:
        return origin
    referer = headers.get("referer")
    if referer is None:
        return None
    parts = _split(referer)
    return f"{parts.scheme}://{parts.netloc}" if parts and parts.scheme and parts.netloc else referer


class RequestGuard:
    """ASGI middleware: a request addressed to a host the server does not answer to gets 400, a write from
    another site's page 403, each with its reason as plain text and one line in the log.

    hosts: allowed_hosts(...) (None: any); trusted: names whose pages may write on any port (RAG_ALLOWED_HOSTS,
    e.g. a proxy that serves the page under its own name); the page's own origin, the Host it was sent to, always may.
    """

    def __init__(self, app: ASGIApp, hosts: frozenset[str] | None, trusted: Iterable[str] = ()):
        self.app = app
        self.hosts = hosts
        self.trusted = frozenset(bare_host(name) for name in trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self.refusal(scope["method"], Headers(scope=scope))
            if refusal is not None:
                status, reason = refusal
                log.warning("refused %s %r: %s", scope["method"], scope["path"], reason)
                await PlainTextResponse(reason + "\n", status_code=status)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, method: str, headers: Headers) -> tuple[int, str] | None:
        """(status, reason) for a request refused; None for one to answer."""
        host_header = headers.get("host", "")
        addressed = _host_and_port(host_header)
        if self.hosts is not None and (addressed is None or addressed[0] not in self.hosts):
            return 400, (
                f"this server answers only to {shown(self.hosts)}, not to the host {host_header!r}; "
                f"to reach it under that name, add it to {ALLOWED_HOSTS_SETTING} (comma-separated)"
            )
        origin = _origin_of(headers)
        if method in SAFE_METHODS or origin is None or self._own(origin, host_header):
            return None
        return 403, (
            f"a {method} from a page of another site ({origin!r}) is refused: only this server's own page may send one "
            f"(a proxy's name can be trusted in {ALLOWED_HOSTS_SETTING})"
        )

    def _own(self, origin: str, host_header: str) -> bool:
        """Whether a page from ORIGIN is this server's own: from the host and port the request is addressed to (or
        another of the server's names on that port), or from a trusted name."""
        parts = _split(origin)
        if parts is None or parts.scheme not in DEFAULT_PORTS:  # "null" (a sandboxed frame, a file), or no web page's origin
            return False
        source, addressed = _host_and_port(parts.netloc, parts.scheme), _host_and_port(host_header, parts.scheme)
        if source is None or addressed is None:
            return False
        return source[0] in self.trusted or (source[1] == addressed[1] and (source[0] == addressed[0] or source[0] in (self.hosts or ())))


class ServerToken:
    """The settings' api_token, which library changes need, and with api_auth_all questions and reads too; a server
    without one lets everything through."""

    def __init__(self, token: SecretStr | None, everything: bool = False):
        self.secret = token.get_secret_value().encode() if token else None
        self.everything = everything and self.secret is not None  # api_auth_all: questions and reads need it too

    @property
    def guards_changes(self) -> bool:
        return self.secret is not None

    def matches(self, given: str | None) -> bool:
        """Whether GIVEN is the token (always, on a server without one); compared in constant time, so that it cannot
        be guessed a byte at a time."""
        if self.secret is None:
            return True
        return given is not None and hmac.compare_digest(given.encode(), self.secret)
