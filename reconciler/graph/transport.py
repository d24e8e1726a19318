"""The SDK plumbing: one `GraphRequestAdapter` per backend, every request through it.

Requests are built with msgraph-sdk request builders or `RequestInformation`, sent with
`adapter.send_primitive_async(info, "bytes", error_map)` (auth + Graph middleware stay in the
path) and decoded with `json.loads` instead of the SDK's typed models, which cost ~6 ms of CPU
per row (graph-pim-reference.md section 10). The SDK `RetryHandler` is switched off on every
request (section 1.6: it would resend POSTs blindly); `reconciler.graph.batch` and
`reconciler.graph.writer` own retries. A counting transport under the middleware counts every
HTTP request actually sent.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
from kiota_abstractions.api_client_builder import (
    register_default_deserializer,
    register_default_serializer,
)
from kiota_abstractions.api_error import APIError
from kiota_abstractions.authentication import AuthenticationProvider
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_http.middleware.options import RetryHandlerOption
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from kiota_serialization_json.json_serialization_writer_factory import (
    JsonSerializationWriterFactory,
)
from kiota_serialization_text.text_parse_node_factory import TextParseNodeFactory
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph_core import GraphClientFactory

from reconciler.graph.errors import (
    BAD_URL,
    CONNECT_ERROR,
    GraphError,
    error_from_api_error,
    not_graph_404,
)

GRAPH_V1 = "https://graph.microsoft.com/v1.0"
ERROR_MAP: dict[str, Any] = {"XXX": ODataError}


class CountingTransport(httpx.AsyncBaseTransport):
    """Wraps the real transport (network or ASGI) and counts requests that reach it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.count = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _no_retry() -> RetryHandlerOption:
    return RetryHandlerOption(delay=0, max_retries=0, should_retry=False)


class GraphHttp:
    """Sends JSON requests through the SDK adapter; raises `GraphError`, returns parsed JSON.

    `base_url` is the version root, e.g. `https://graph.microsoft.com/v1.0`.
    """

    def __init__(
        self,
        base_url: str,
        auth: AuthenticationProvider,
        transport: httpx.AsyncBaseTransport,
        *,
        timeout_s: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # what GraphServiceClient registers: without it the SDK cannot parse error bodies
        register_default_serializer(JsonSerializationWriterFactory)
        register_default_deserializer(JsonParseNodeFactory)
        register_default_deserializer(TextParseNodeFactory)
        self._counter = CountingTransport(transport)
        client = httpx.AsyncClient(
            transport=self._counter, base_url=self.base_url, timeout=timeout_s
        )
        self._client = GraphClientFactory.create_with_default_middleware(client=client)
        self.adapter = GraphRequestAdapter(auth, client=self._client)
        self.adapter.base_url = self.base_url

    @property
    def request_count(self) -> int:
        """HTTP requests that reached the transport (after middleware)."""
        return self._counter.count

    @property
    def path_parameters(self) -> dict[str, Any]:
        """Path parameters for SDK request builders (`{+baseurl}`)."""
        return {"baseurl": self.base_url}

    def relative(self, url: str) -> str:
        """A full URL (from a request builder or an `@odata.nextLink`) as a `$batch` item URL:
        the part after the version root, with `%24` in query parameter names decoded the way
        kiota's ParametersNameDecodingHandler does (section 1.2)."""
        if url.startswith(self.base_url):
            rest = url[len(self.base_url):]
        else:
            parts = urlsplit(url)
            root = urlsplit(self.base_url).path.rstrip("/")
            path = parts.path[len(root):] if root and parts.path.startswith(root) else parts.path
            rest = path + (f"?{parts.query}" if parts.query else "")
        path, _, query = rest.partition("?")
        if not query:
            return path or "/"
        params = []
        for part in query.split("&"):
            name, eq, value = part.partition("=")
            params.append(f"{unquote(name)}{eq}{value}")
        return f"{path}?{'&'.join(params)}"

    async def send(self, info: RequestInformation) -> Any:
        """Send `info` (retries off), return the JSON body (None when empty).

        Raises `GraphError` for any non-2xx answer (status, code, request-id parsed; a 404
        without Graph's JSON error body says the base URL is likely wrong, see
        `errors.not_graph_404`) and for transport failures (status None, code `Timeout` or
        `TransportError`).
        """
        info.add_request_options([_no_retry()])
        try:
            raw = await self.adapter.send_primitive_async(info, "bytes", ERROR_MAP)
        except APIError as exc:
            raise not_graph_404(error_from_api_error(exc), self.base_url) from None
        except httpx.TimeoutException as exc:
            raise GraphError(None, "Timeout", f"request timed out: {exc!s}") from None
        except httpx.ConnectError as exc:
            raise GraphError(
                None, CONNECT_ERROR, f"cannot connect to {self.base_url}: {exc!s}"
            ) from None
        except httpx.UnsupportedProtocol as exc:
            raise GraphError(None, BAD_URL, f"cannot send to {self.base_url}: {exc!s}") from None
        except httpx.TransportError as exc:
            raise GraphError(None, "TransportError", f"transport failure: {exc!s}") from None
        if not raw:
            return None
        return json.loads(raw)

    async def post_json(self, path: str, body: Any) -> Any:
        """POST `body` as JSON to `path` (relative to the version root, e.g. `/$batch`)."""
        info = RequestInformation(Method.POST)
        info.url = self.base_url + path
        info.headers.try_add("Content-Type", "application/json")
        info.headers.try_add("Accept", "application/json")
        info.content = json.dumps(body).encode()
        return await self.send(info)

    async def get_json(self, url: str) -> Any:
        """GET an absolute URL (e.g. from a request builder's `to_get_request_information`)."""
        info = RequestInformation(Method.GET)
        info.url = url
        info.headers.try_add("Accept", "application/json")
        return await self.send(info)

    async def aclose(self) -> None:
        await self._client.aclose()
        # the middleware client does not close the transport under it: without this the
        # connection pool stays open (over TLS the server then waits for each close_notify)
        await self._counter.aclose()
