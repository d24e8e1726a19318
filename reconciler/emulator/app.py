"""The ASGI app: Microsoft Graph v1.0 as the emulator serves it under `/v1.0`.

Every call goes through `router.dispatch`; this module only converts HTTP to `Call`, applies
per-request latency with `asyncio.sleep` (so concurrent requests overlap), and writes the
request log (method, path with query, status, latency in ms). Entra's token endpoints
(`routes_identity`) are served beside `/v1.0`. Every answer carries a `Date`
header from the tenant's clock, as Graph's carry the service's time.
"""

from __future__ import annotations

import asyncio
import json
import time
from email.utils import formatdate
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.emulator import ids, routes_identity
from reconciler.emulator.errors import envelope
from reconciler.emulator.router import Answer, Call, dispatch
from reconciler.emulator.tenant import LogEntry, Tenant


def create_app(tenant: Tenant, latency_ms: int = 0) -> Starlette:
    """Build the app serving `tenant`. `latency_ms` is added to every answer (on top of the
    tenant's own `latency_ms` and any latency faults)."""

    async def handle(request: Request) -> Response:
        started = time.perf_counter()
        path = "/" + unquote(request.path_params.get("path", ""))
        query = request.url.query
        raw = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        base_url = f"{request.url.scheme}://{request.url.netloc}"
        answer: Answer
        body: object = None
        try:
            body = json.loads(raw) if raw.strip() else None
            parsed = True
        except ValueError:
            parsed = False
        if parsed:
            answer = dispatch(tenant, Call(request.method, path, query, body, headers, base_url))
        else:
            rid = ids.new_guid()
            answer = Answer(
                400,
                envelope(
                    "BadRequest",
                    "The request body is not valid JSON.",
                    tenant.now(),
                    rid,
                    headers.get("client-request-id", rid),
                ),
            )
        delay = latency_ms + tenant.latency_ms + answer.extra_latency_ms
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        elapsed = (time.perf_counter() - started) * 1000
        full = f"/v1.0{path}" + (f"?{query}" if query else "")
        tenant.log(
            LogEntry(
                request.method,
                full,
                answer.status,
                round(elapsed, 3),
                answer.action,
                answer.request_status,
            )
        )
        # Graph's `Date` header, from the tenant's clock (a client compares it with its own)
        headers = {"Date": formatdate(tenant.now().timestamp(), usegmt=True), **answer.headers}
        if answer.body is None:
            return Response(status_code=answer.status, headers=headers)
        return JSONResponse(answer.body, status_code=answer.status, headers=headers)

    methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
    graph = Route("/v1.0/{path:path}", handle, methods=methods)
    return Starlette(routes=[graph, *routes_identity.routes(tenant)])
