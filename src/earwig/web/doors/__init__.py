"""The doors: one Litestar Router per kind of client, each in its own module, each handler
given the daemon as `host: HostDep` (web/host.py). A new door is a module with a `router`
and one line in ROUTERS; the guard (web/guard.py) stands before all of them alike.

    openai.py   /v1: OpenAI's audio API (the openai SDK, Open WebUI, speaches' clients)
    asr.py      /asr, /detect-language, /status: whisper-asr-webservice's (Bazarr, Subgen)
    api.py      /api: earwig's own API, the socket's requests over HTTP, events, files
    page.py     /, /jobs/N, /static/: the web page
    hooks.py    /hooks/SENDER: webhooks from Jellyfin, Plex, Emby, Tautulli, Sonarr, Radarr
"""

from __future__ import annotations

from litestar import Router

from earwig.web.doors import api, asr, hooks, openai, page

ROUTERS: tuple[Router, ...] = (
    openai.router,
    asr.router,
    api.router,
    page.router,
    hooks.router,
)
