"""`POST /$batch`: JSON batching as DOC-Batch (https://learn.microsoft.com/graph/json-batching)
describes it (reference 1.5).

- At most 20 sub-requests; the envelope answers 200 and each sub-response carries its own
  `status`, `headers` and `body`. A batch inside a batch is refused.
- `id` is required and unique in the batch, case-insensitively: a duplicate fails the whole
  batch with 400 [DOC-Batch].
- `dependsOn` lists ids of the same batch; a request runs after those it depends on, and a
  request whose dependency failed (status 400 or more, 424 included) is not run: it answers
  424 Failed Dependency [DOC-Batch]. A `dependsOn` naming an unknown id (or its own), a cycle,
  or a batch mixing requests with and without `dependsOn` (beyond the one a sequence starts
  with) fails the whole batch with 400 (Graph: "Batch should be either fully sequential or
  fully parallel", Microsoft Q&A 1532547; the exact rule is the stricter reading).
- Without `dependsOn` the order is unspecified and the responses "might appear in a different
  order" [DOC-Batch]: the `batch_order` switch runs them in order or reversed, and lists the
  responses in the order they ran.
- A sub-request with a `body` needs a `Content-Type` header [DOC-Batch]; without one it
  answers 400 on its own (stated choice: Graph's answer is unseen).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from typing import Any

from reconciler.emulator import ids
from reconciler.emulator.calls import Answer, Call
from reconciler.emulator.errors import bad_request, envelope
from reconciler.emulator.tenant import LogEntry, Tenant

MAX_BATCH = 20
"""JSON batching limit (reference 1.5)."""

Dispatch = Callable[[Tenant, Call], Answer]


def run(tenant: Tenant, call: Call, dispatch: Dispatch) -> Answer:
    """Answer a `$batch` envelope, each sub-request through `dispatch`. Raises `GraphError`
    (400) for an envelope refused whole."""
    if call.batch_item:
        raise bad_request("A batch request cannot contain another batch request.")
    items = call.body.get("requests") if isinstance(call.body, dict) else None
    if not isinstance(items, list):
        raise bad_request("The batch body must have a 'requests' array.")
    if len(items) > MAX_BATCH:
        raise bad_request(f"The number of batch requests exceeds the maximum of {MAX_BATCH}.")
    order = _execution_order(items, reverse=tenant.variant("batch_order") == "reversed")
    statuses: dict[str, int] = {}
    responses = []
    for index in order:
        item = items[index]
        failed = [d for d in _depends_on(item) if statuses.get(d.lower(), 0) >= 400]
        if failed:
            response = _error_item(
                tenant, item, 424, "FailedDependency", f"Dependency '{failed[0]}' failed."
            )
        else:
            response = _run_item(tenant, call, item, dispatch)
        statuses[str(response["id"]).lower()] = int(response["status"])
        responses.append(response)
    return Answer(200, {"responses": responses})


def _depends_on(item: Any) -> list[str]:
    if not isinstance(item, dict):
        return []
    raw = item.get("dependsOn")
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(d, str) for d in raw):
        raise bad_request("dependsOn must be an array of request ids.")
    return raw


def _execution_order(items: list[Any], *, reverse: bool) -> list[int]:
    """Indexes of `items` in the order they run; 400 for duplicate ids and bad dependencies."""
    positions: dict[str, int] = {}
    for index, item in enumerate(items):
        if isinstance(item, dict) and "id" in item:
            key = str(item["id"]).lower()
            if key in positions:
                raise bad_request(f"The batch request contains a duplicate id '{item['id']}'.")
            positions[key] = index
    needs = [_depends_on(item) for item in items]
    for index, deps in enumerate(needs):
        for dep in deps:
            if positions.get(dep.lower(), index) == index:
                raise bad_request(
                    f"The dependsOn id '{dep}' of request {index + 1} does not name another "
                    "request of this batch."
                )
    with_deps = sum(1 for deps in needs if deps)
    if with_deps and len(items) - with_deps > 1:
        raise bad_request("Batch should be either fully sequential or fully parallel.")
    if not with_deps:
        order = list(range(len(items)))
        return order[::-1] if reverse else order
    done: list[int] = []
    waiting = list(range(len(items)))
    while waiting:
        ready = [i for i in waiting if all(positions[d.lower()] in done for d in needs[i])]
        if not ready:
            raise bad_request("The dependsOn ids of this batch form a cycle.")
        done.append(ready[0])
        waiting.remove(ready[0])
    return done


def _error_item(tenant: Tenant, item: Any, status: int, code: str, message: str) -> dict[str, Any]:
    rid = ids.new_guid()
    return {
        "id": str(item.get("id", "") if isinstance(item, dict) else ""),
        "status": status,
        "headers": {"Content-Type": "application/json"},
        "body": envelope(code, message, tenant.now(), rid, rid),
    }


def _run_item(tenant: Tenant, call: Call, item: Any, dispatch: Dispatch) -> dict[str, Any]:
    if not isinstance(item, dict) or "id" not in item or "method" not in item or "url" not in item:
        return _error_item(
            tenant, item, 400, "BadRequest", "Each batch request needs id, method and url."
        )
    headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
    body = item.get("body")
    if body is not None and "content-type" not in headers:
        return _error_item(
            tenant, item, 400, "BadRequest", "A request with a body needs a Content-Type header."
        )
    url = re.sub(r"^(https?://[^/]+)?(/v1\.0)?", "", str(item["url"]))
    if not url.startswith("/"):
        url = "/" + url
    path, _, query = url.partition("?")
    if isinstance(body, str):
        with contextlib.suppress(ValueError):
            body = json.loads(body)
    sub = Call(
        str(item["method"]).upper(), path, query, body, headers, call.base_url, batch_item=True,
        roles=call.roles,  # sub-requests run with the envelope's token
    )
    answer = dispatch(tenant, sub)
    tenant.log(
        LogEntry(
            sub.method,
            url,
            answer.status,
            0.0,
            answer.action,
            answer.request_status,
            batch_item=True,
        )
    )
    out: dict[str, Any] = {
        "id": str(item["id"]),
        "status": answer.status,
        "headers": {
            k: v for k, v in answer.headers.items() if k.lower() in ("retry-after", "location")
        },
    }
    if answer.body is not None:
        out["headers"]["Content-Type"] = "application/json"
        out["body"] = answer.body
    return out
