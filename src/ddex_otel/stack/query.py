"""Small stdlib clients for the stack's query APIs (Jaeger HTTP API, Prometheus HTTP API, VictoriaLogs' LogsQL)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def get_json(url: str, params: dict[str, Any] | None = None, timeout: float = 5.0) -> Any:
    """GET url?params and decode the JSON body (HTTP errors raise)."""
    if params:
        url = f"{url}?{urllib.parse.urlencode(params, doseq=True)}"
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.load(resp)


def poll(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float, what: str, interval: float = 0.5) -> T:
    """Call fetch until done(result) or the deadline; then raise TimeoutError with the last result."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = fetch()
            if done(last):
                return last
        except OSError as exc:  # connection refused, HTTP 5xx, ...
            last = exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not seen within {timeout:.0f}s; last answer: {str(last)[:2000]}")
        time.sleep(interval)


class Jaeger:
    """Jaeger v2 query API (/api/services, /api/traces)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def services(self) -> list[str]:
        return get_json(f"{self.base_url}/api/services")["data"] or []

    def traces(self, service: str, limit: int = 100, **params: Any) -> list[dict]:
        """Traces of service, each {traceID, spans, processes}."""
        query = {"service": service, "limit": limit, "lookback": "1h", **params}
        return get_json(f"{self.base_url}/api/traces", query)["data"] or []

    def wait_traces(self, service: str, count: int = 1, timeout: float = 30.0, **params: Any) -> list[dict]:
        """Poll until service has at least count traces."""
        return poll(lambda: self.traces(service, **params), lambda t: len(t) >= count, timeout,
                    f"{count} trace(s) of service {service!r} in Jaeger")


class Prometheus:
    """Prometheus HTTP API (instant queries, exemplars)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def query_raw(self, expr: str) -> dict:
        """The full /api/v1/query answer (status, data or error)."""
        try:
            return get_json(f"{self.base_url}/api/v1/query", {"query": expr})
        except urllib.error.HTTPError as exc:  # 400/422 carry a JSON error body
            return json.load(exc)

    def query(self, expr: str) -> list[dict]:
        """Instant-vector result; raises ValueError on a query error."""
        answer = self.query_raw(expr)
        if answer.get("status") != "success":
            raise ValueError(f"{expr}: {answer.get('errorType')}: {answer.get('error')}")
        return answer["data"]["result"]

    def wait(self, expr: str, done: Callable[[list[dict]], bool] = bool, timeout: float = 60.0) -> list[dict]:
        """Poll expr until done(result) (default: non-empty)."""
        return poll(lambda: self.query(expr), done, timeout, f"Prometheus result for {expr}")

    def exemplars(self, expr: str, start: float, end: float) -> list[dict]:
        return get_json(f"{self.base_url}/api/v1/query_exemplars", {"query": expr, "start": start, "end": end})["data"]


class VictoriaLogs:
    """VictoriaLogs' LogsQL query API (/select/logsql/query: one JSON object per matching record)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def query(self, logsql: str, limit: int = 1000) -> list[dict]:
        """Records matching ``logsql`` (e.g. ``trace_id:"…"``), each a flat {field: string} dict."""
        url = f"{self.base_url}/select/logsql/query?{urllib.parse.urlencode({'query': logsql, 'limit': limit})}"
        with urllib.request.urlopen(url, timeout=5.0) as resp:
            return [json.loads(line) for line in resp.read().decode().splitlines() if line.strip()]

    def wait(self, logsql: str, done: Callable[[list[dict]], bool] = bool, timeout: float = 60.0) -> list[dict]:
        """Poll ``logsql`` until done(records) (default: some)."""
        return poll(lambda: self.query(logsql), done, timeout, f"VictoriaLogs records for {logsql}")
