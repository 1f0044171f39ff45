"""The web page and its files: `/`, `/jobs/N` (the same page; its script shows the job) and
`/static/...`. No data is in them, so the guard serves them without the token: the page
learns it is not logged in from a 401 on /api/status and shows how to log in.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Response, Router, get
from litestar.static_files import create_static_files_router

STATIC = Path(__file__).parent.parent / "static"
# Scripts, styles and everything else only from this server's own files: no inline script or
# style, no eval, no plugin, no framing. A transcript's words that ever reached the page as
# markup could run nothing (the views build elements, never HTML strings, besides).
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def page() -> Response[bytes]:
    return Response(
        (STATIC / "index.html").read_bytes(),
        media_type="text/html",
        headers={
            "cache-control": "no-cache",
            "content-security-policy": CSP,
            "x-content-type-options": "nosniff",
        },
    )


@get("/", include_in_schema=False)
async def index() -> Response[bytes]:
    return page()


@get("/jobs/{job_id:int}", include_in_schema=False)
async def job_page(job_id: int) -> Response[bytes]:
    return page()


router = Router(
    "/",
    route_handlers=[
        index,
        job_page,
        create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False),
    ],
)
