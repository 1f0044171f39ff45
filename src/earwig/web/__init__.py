"""earwig on the network: the HTTP server (Litestar on uvicorn, in the daemon's own loop).

The only package that imports litestar or uvicorn, and only the daemon imports it (lazily,
when [http] listen is set), so `earwig status` and the other commands stay light. This
module itself imports nothing: `earwig token` reads web/token.py without the HTTP stack.

    server.py   the supervised part: binds, serves, retries a taken port with back-off
    guard.py    Host, Origin, token and trusted networks, before any route runs (pure ASGI)
    app.py      the Litestar app: the page, /api, /v1 and the whisper-asr-webservice door
    rest.py     /api, derived from the socket protocol's declarations and handler table
    events.py   /api/events (SSE) and /api/ws, fed by the bus like a socket connection
    uploads.py  multipart bodies streamed to disk, size-limited, hashed as they arrive
    doors.py    a transcription request as a job of kind `api`, through the queue
    formats.py  the OpenAI and whisper-asr-webservice answer shapes
"""
