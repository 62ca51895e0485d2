"""The workbench's front door: the Host header, the Origin of changes, the size of a request.

:class:`Guard` is a plain ASGI middleware wrapped around the whole application:

- **Host**: a request whose ``Host`` header is not one of the addresses the workbench serves
  is refused (400). A web page on another site cannot then reach the workbench by making its
  own domain name resolve to 127.0.0.1 (DNS rebinding): its requests carry its own name.
- **Origin**: a request that changes something (any method but GET, HEAD, OPTIONS) sent by a
  page of another origin is refused (403); the workbench answers no CORS preflight, so such a
  page cannot send JSON to it either.
- **Size**: a request body larger than the cap is refused (413) before the application reads it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The largest request body accepted, in bytes (an edit is a few hundred bytes).
MAX_BODY_BYTES = 64 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    """True for the addresses that bind every interface (0.0.0.0, ::)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def served_hosts(host: str, port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """The ``Host`` header values a workbench bound to ``host:port`` accepts.

    The bound address itself; the loopback names when bound to loopback or to every
    interface; this machine's name and addresses when bound to every interface; and any
    ``extra`` names (``--allow-host``). Each with ``:port`` (and without, on port 80).
    """
    names = {host if ":" not in host or host.startswith("[") else f"[{host}]"}
    if is_loopback(host) or is_wildcard(host):
        names.update(LOOPBACK_NAMES)
    if is_wildcard(host):
        hostname = socket.gethostname()
        names.update({hostname, socket.getfqdn()})
        with contextlib.suppress(OSError):
            names.update(socket.gethostbyname_ex(hostname)[2])
    names.update(extra)
    out = {f"{n.lower()}:{port}" for n in names}
    if port == 80:
        out |= {n.lower() for n in names}
    return frozenset(out)


async def _json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """Host, Origin and size checks around an ASGI application (see the module docstring).

    Parameters
    ----------
    app
        The application.
    allowed_hosts
        Accepted ``Host`` header values, ``name:port`` in lower case (:func:`served_hosts`).
    max_body_bytes
        Largest request body accepted.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str], max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.origins = frozenset(f"http://{h}" for h in self.allowed_hosts)
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "").lower()
        if host not in self.allowed_hosts:
            await _json(send, 400, f"Host header {host!r} is not an address this workbench serves "
                                   f"({sorted(self.allowed_hosts)}); open the address it printed, or start it "
                                   f"with --allow-host NAME")
            return
        origin = headers.get("origin")
        if scope["method"] not in SAFE_METHODS and origin is not None and origin.lower() not in self.origins:
            await _json(send, 403, f"requests from {origin!r} may not change this workbench; use its own page")
            return
        try:
            declared = int(headers.get("content-length", "0") or 0)
        except ValueError:
            await _json(send, 400, "Content-Length is not a number")
            return
        if declared > self.max_body_bytes:
            await _json(send, 413, f"request body of {declared:,} bytes; the limit is {self.max_body_bytes:,}")
            return
        messages: list[Message] = []
        size = 0
        while scope["method"] not in SAFE_METHODS:  # read the body (capped) before the application sees it
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                await _json(send, 413, f"request body above the limit of {self.max_body_bytes:,} bytes")
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        if not messages:
            await self.app(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


__all__ = ["MAX_BODY_BYTES", "Guard", "is_loopback", "is_wildcard", "served_hosts"]
