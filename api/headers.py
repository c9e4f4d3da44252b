"""Security headers on every response (a pure ASGI middleware: a few microseconds per request).

Everything under /api/ gets ``Cache-Control: no-store`` (plans, exports and lookups carry residents'
data; nothing there is worth caching in a shared proxy or browser). Every response gets
``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, ``X-Frame-Options: DENY`` and a
Content-Security-Policy: under /api/ (notices and exports) it forbids scripts and framing, as the
notice pages need only inline styles; the web console's pages (/, /r, /site, /grid, /static) may
run their own scripts from this origin only and talk only to it (images also from an intranet tile
server, whatever host the planner set). The interactive docs (/docs) keep their own CSP-less page.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CSP", "WEB_CSP", "SecurityHeaders"]

CSP = (b"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; "
       b"base-uri 'none'; form-action 'none'")
WEB_CSP = (b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
           b"img-src 'self' data: blob: http: https:; connect-src 'self'; worker-src 'self'; "
           b"media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_COMMON = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
           (b"x-frame-options", b"DENY")]
_DOCS = ("/docs", "/redoc")


class SecurityHeaders:
    """Add the headers above to every HTTP response of ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        extra = list(_COMMON)
        if path.startswith("/api/"):
            extra.append((b"content-security-policy", CSP))
        elif not path.startswith(_DOCS):
            extra.append((b"content-security-policy", WEB_CSP))
        if path.startswith("/api/"):
            extra.append((b"cache-control", b"no-store"))
            extra.append((b"pragma", b"no-cache"))

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
