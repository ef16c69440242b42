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

A second trigger, a timer, runs the daily reconciliation with Azure's bill (`bridge.reconcile.job`, the code
of `python -m bridge reconcile`) at RECONCILE_SCHEDULE (NCRONTAB, UTC).  The worker checks a timer's
parameter against `func.TimerRequest` and wants it to return None; its module is imported when it first
runs, so the HTTP functions' cold start does not pay for it.
"""

import azure.functions as func
import azurefunctions.extensions.http.fastapi  # noqa: F401 - the import is the switch: HTTP streaming on

from bridge.routes import ROUTES
from bridge.telemetry.request_log import quiet_azure_sdk_logs
from bridge.telemetry.setup import configure

quiet_azure_sdk_logs()
configure()
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for route in ROUTES:
    app.route(route=route.functions_template, methods=list(route.methods), auth_level=func.AuthLevel.ANONYMOUS)(route.handler)

RECONCILE_SCHEDULE = "0 30 6 * * *"


@app.timer_trigger(schedule=RECONCILE_SCHEDULE, arg_name="timer", run_on_startup=False, use_monitor=True)
async def reconcile(timer: func.TimerRequest) -> None:  # noqa: ARG001 - the worker passes it (arg_name)
    from bridge.reconcile.job import on_timer

    await on_timer()
