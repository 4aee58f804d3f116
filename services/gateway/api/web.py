"""Fiscus's page for people who do not write code, served by the gateway.

`GET /` is the page, `GET /web/<file>` its scripts and styles (services/gateway/web/,
plain files: no build step, no CDN). The page calls the public `/api/v1` with the key its
user gives it. Every answer carries a strict Content-Security-Policy: scripts, styles and
calls only from this origin, no inline script or style, no framing.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from shared.problems import ProblemError

WEB = Path(__file__).resolve().parent.parent / "web"
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidated on every load (an ETag answers 304), so a new version shows at once.
    "Cache-Control": "no-cache",
}
MEDIA_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
# The files the page is made of, by name: nothing else under web/ is served.
FILES = frozenset(
    path.name for path in WEB.iterdir() if path.suffix in MEDIA_TYPES and path.name != "index.html"
)

router = APIRouter(include_in_schema=False)


def _file(path: Path) -> FileResponse:
    media_type = MEDIA_TYPES[path.suffix] + "; charset=utf-8"
    return FileResponse(path, media_type=media_type, headers=HEADERS)


@router.get("/")
async def page() -> FileResponse:
    return _file(WEB / "index.html")


@router.get("/web/{name}")
async def asset(name: str) -> FileResponse:
    if name not in FILES:
        raise ProblemError(404, "Not Found", f"the page has no file {name!r}")
    return _file(WEB / name)
