"""The Litestar app: the doors (web/doors/: one router each) on one app, with the daemon as
their `host` dependency and one error policy (web/answers.py). The guard (web/guard.py)
wraps this app in web/server.py: nothing reaches a door that the guard did not let through.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide

from earwig.web.answers import EXCEPTION_HANDLERS
from earwig.web.doors import ROUTERS
from earwig.web.host import Host


def build(host: Host) -> Litestar:
    return Litestar(
        route_handlers=list(ROUTERS),
        dependencies={"host": Provide(lambda: host, use_cache=True, sync_to_thread=False)},
        exception_handlers=dict(EXCEPTION_HANDLERS),
        openapi_config=None,  # /api/schema is earwig's own (web/doors/api.py)
        request_max_body_size=None,  # uploads are capped as they stream (web/uploads.py)
        logging_config=None,
        debug=False,
    )
