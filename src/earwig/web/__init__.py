"""earwig on the network: the HTTP server (Litestar on uvicorn, in the daemon's own loop).

The only package that imports litestar or uvicorn, and only the daemon imports it (lazily,
when [http] listen is set), so `earwig status` and the other commands stay light. This
module itself imports nothing: `earwig token` reads web/token.py without the HTTP stack.

    server.py   the supervised part (the daemon's HttpPart): binds, serves, retries a taken port
    guard.py    Host, Origin, token and trusted networks, before any route runs (pure ASGI)
    app.py      the Litestar app: the doors' routers, the `host` dependency, the error policy
    doors/      one Router per door: openai.py (/v1), asr.py (whisper-asr), api.py (/api),
                page.py (the web page); a new door is a module and one line in ROUTERS
    host.py     `Host`: what the doors may use of the daemon (a Protocol; never daemon/app.py)
    answers.py  JSON answers (protocol.dumps), errors and their statuses, reading an upload
    params.py   query strings and form fields as declared msgspec Structs, converted
    rest.py     /api's routes, derived from the socket protocol's declarations
    events.py   /api/events (SSE) and /api/ws, fed by the bus like a socket connection
    uploads.py  multipart bodies streamed to disk, size-limited, hashed as they arrive
    formats.py  the OpenAI and whisper-asr-webservice answer shapes
    token.py    the HTTP token, made on first need, 0600

Transcription requests become jobs through daemon/apijobs.py (the daemon's service for API
jobs); /api and /api/ws requests go through daemon/dispatch.py like the socket's.
"""
