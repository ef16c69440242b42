"""The Azure Functions app: one HTTP function per route of `bridge.routes.ROUTES`.

Handlers take and return Starlette's `Request` and `Response`, so responses
stream; the same handlers serve `python -m bridge`.  The Python worker accepts
those types (and streams) only when the HTTP-streaming extension has been
imported by the time it indexes this module: importing
`azurefunctions.extensions.http.fastapi` registers the extension with
`azurefunctions.extensions.base`, whose `HttpV2FeatureChecker.http_v2_enabled()`
the worker asks.  Without that import the worker indexes no function and every
route answers 404 (tests/test_worker_indexing.py checks it as the worker does).
It is imported here, not in `bridge/`, so `python -m bridge` does not pay for FastAPI.
"""

import azure.functions as func
import azurefunctions.extensions.http.fastapi  # noqa: F401 - the import is the switch: HTTP streaming on

from bridge.routes import ROUTES
from bridge.telemetry.request_log import quiet_azure_sdk_logs

quiet_azure_sdk_logs()
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for route in ROUTES:
    app.route(route=route.functions_template, methods=list(route.methods), auth_level=func.AuthLevel.ANONYMOUS)(route.handler)
