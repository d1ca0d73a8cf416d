"""Writers: send one gzip batch of line protocol to InfluxDB and classify what went wrong.

* ``InfluxV1Writer`` posts to InfluxDB 1.x's ``/write`` (db, rp; credentials as Basic auth) with
  httpx.
* ``InfluxV2Writer`` posts to ``/api/v2/write`` (org, bucket, token) through influxdb-client's
  ``WriteService``: the low-level call takes our pre-compressed bytes as they are, whereas the
  high-level ``WriteApi`` would re-compress with gzip level 9 (client-side ``enable_gzip``).
  influxdb-client is synchronous, so it runs on a dedicated thread closed with the writer.

Both write with precision ``ms``. Outcomes: success, ``RetryableWriteError`` (network, 5xx,
429, 401/403/404/408: keep the batch and retry later) or ``RejectedBatchError`` (other 4xx: the
data is bad, quarantine it).
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import httpx
import urllib3
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.rest import ApiException
from influxdb_client.service.write_service import WriteService

from controller.config.site import InfluxV1Sink, InfluxV2Sink

from .errors import RejectedBatchError, RetryableWriteError, WriteError

__all__ = ["InfluxV1Writer", "InfluxV2Writer", "Writer", "classify", "make_writer"]

_LOGGER = logging.getLogger(__name__)

PRECISION = "ms"
_RETRY_STATUSES = frozenset({401, 403, 404, 408, 429})


class Writer(Protocol):
    """Sends gzip-compressed line protocol; raises a ``WriteError`` subclass on failure."""

    name: str

    async def send(self, body: bytes) -> None:
        """Write one batch; return only once the server acknowledged it."""
        ...

    async def aclose(self) -> None:
        """Release connections and threads."""
        ...


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _server_message(body: str) -> str:
    """InfluxDB explains errors in JSON (``error`` in 1.x, ``message`` in 2.x)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:2000]
    if isinstance(data, dict):
        for key in ("error", "message"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return body.strip()[:2000]


def classify(status: int, body: str, retry_after: str | None = None) -> WriteError:
    """The error for a non-2xx reply: retry later, or quarantine the batch."""
    message = _server_message(body) or f"HTTP {status}"
    if status >= 500 or status in _RETRY_STATUSES or status < 400:
        return RetryableWriteError(message, status, _retry_after(retry_after))
    return RejectedBatchError(message, status)


class InfluxV1Writer:
    """InfluxDB 1.x ``/write`` over a kept-alive HTTP connection."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.name = f"influxdb-v1 {url} db={database}"
        params = {"db": database, "precision": PRECISION}
        if retention_policy:
            params["rp"] = retention_policy
        # Credentials go in the Authorization header (InfluxDB 1.x takes Basic auth), never in
        # the query string: httpx logs every request URL at INFO.
        auth = httpx.BasicAuth(username, password or "") if username is not None else None
        self._params = params
        self._client = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout, auth=auth)

    @classmethod
    def from_sink(cls, sink: InfluxV1Sink, timeout: float = 10.0) -> InfluxV1Writer:
        return cls(
            sink.url,
            sink.database,
            retention_policy=sink.retention_policy,
            username=sink.username,
            password=sink.password,
            timeout=timeout,
        )

    async def send(self, body: bytes) -> None:
        try:
            reply = await self._client.post(
                "/write",
                params=self._params,
                content=body,
                headers={"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"},
            )
        except httpx.HTTPError as err:
            raise RetryableWriteError(f"{type(err).__name__}: {err}") from err
        if reply.is_success:
            return
        raise classify(reply.status_code, reply.text, reply.headers.get("Retry-After"))

    async def aclose(self) -> None:
        await self._client.aclose()


class InfluxV2Writer:
    """``/api/v2/write`` through influxdb-client, on its own thread."""

    def __init__(
        self, url: str, org: str, bucket: str, token: str | None = None, timeout: float = 10.0
    ) -> None:
        self.name = f"influxdb-v2 {url} bucket={bucket}"
        self._org = org
        self._bucket = bucket
        self._client = InfluxDBClient(
            url=url, token=token or "", org=org, timeout=int(timeout * 1000)
        )
        self._service = WriteService(self._client.api_client)  # type: ignore[no-untyped-call]
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="influx-v2-write")

    @classmethod
    def from_sink(cls, sink: InfluxV2Sink, timeout: float = 10.0) -> InfluxV2Writer:
        return cls(sink.url, sink.org, sink.bucket, sink.token, timeout)

    def _post(self, body: bytes) -> None:
        try:
            self._service.post_write(  # type: ignore[no-untyped-call]
                org=self._org,
                bucket=self._bucket,
                body=body,
                precision=PRECISION,
                content_encoding="gzip",
            )
        except ApiException as err:
            text = err.body.decode(errors="replace") if isinstance(err.body, bytes) else err.body
            raise classify(
                int(err.status or 0), str(text or err.reason or ""), err.retry_after
            ) from err
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise RetryableWriteError(f"{type(err).__name__}: {err}") from err

    async def send(self, body: bytes) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._post, body)

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._client.close)
        self._thread.shutdown(wait=True)


def make_writer(sink: InfluxV1Sink | InfluxV2Sink, timeout: float = 10.0) -> Writer:
    """The writer for a configured sink."""
    if isinstance(sink, InfluxV1Sink):
        return InfluxV1Writer.from_sink(sink, timeout)
    return InfluxV2Writer.from_sink(sink, timeout)
