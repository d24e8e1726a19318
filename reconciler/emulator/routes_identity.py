"""Entra's endpoints on the emulator's app (see `identity` for what they check and answer):

- `GET /{tenant}/v2.0/.well-known/openid-configuration`: what MSAL reads for an authority
  when instance discovery is off (azure-identity's async confidential credentials post to
  the token endpoint directly);
- `GET /{tenant}/discovery/v2.0/keys`: an empty key set (access tokens are HMAC-signed with
  a key the emulator keeps);
- `POST /{tenant}/oauth2/v2.0/token`: client credentials.

Token requests stay out of the Graph request log (`Tenant.request_log`), so Graph round-trip
counts are unchanged by signing in; they go to `tenant.identity.token_log`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.emulator.identity import TokenError
from reconciler.emulator.tenant import Tenant


def routes(tenant: Tenant) -> list[Route]:
    """The identity routes serving `tenant.identity`."""
    service = tenant.identity

    def base(request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}"

    async def openid_configuration(request: Request) -> Response:
        name = request.path_params["tenant"]
        if not service.knows_tenant(name):
            error = TokenError(400, "invalid_tenant", 90002, f"Tenant '{name}' not found.")
            return JSONResponse(service.error_body(error), status_code=400)
        return JSONResponse(service.openid_configuration(base(request), name))

    async def keys(_request: Request) -> Response:
        return JSONResponse({"keys": []})

    async def token(request: Request) -> Response:
        raw = await request.body()
        url = f"{base(request)}{request.url.path}"
        status, body = service.token_response(request.path_params["tenant"], raw, url)
        headers = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
        return JSONResponse(body, status_code=status, headers=headers)

    return [
        Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration,
              methods=["GET"]),
        Route("/{tenant}/discovery/v2.0/keys", keys, methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
    ]
