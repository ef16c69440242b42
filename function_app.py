"""The Azure Functions app: one HTTP function per route of `bridge.routes.ROUTES`.

Handlers take and return the HTTP-streaming extension's FastAPI (Starlette)
types, so responses stream; the same handlers serve `python -m bridge`.
"""

import azure.functions as func

from bridge.routes import ROUTES

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for route in ROUTES:
    app.route(route=route.functions_template, methods=list(route.methods), auth_level=func.AuthLevel.ANONYMOUS)(route.handler)
