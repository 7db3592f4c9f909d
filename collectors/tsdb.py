"""TSDB writers: InfluxDB 1.x ``/write`` and the v2 write API through ``influxdb-client``.

Third-party errors end here. ``TSDBUnavailable`` (network, 5xx, auth, missing bucket): keep
the results in the journal and retry. ``TSDBRejected`` (400 — bad points; InfluxDB 1.x writes
the rest of the batch, a "partial write", VictoriaMetrics refuses the whole request; 413 or
"too large": the write itself is too big): retrying the same lines cannot help, so the drainer
splits the write until the refused points stand alone and sets them aside (``drain.py``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Protocol

import httpx

from netmon.config.central import InfluxConfig
from netmon.errors import StorageError, TSDBRejected, TSDBUnavailable

log = logging.getLogger("netmon.collector.tsdb")
RETRYABLE = {401, 403, 404, 408, 429}


class TsdbWriter(Protocol):
    async def write(self, lines: list[str]) -> None: ...

    async def aclose(self) -> None: ...


def refused_count(text: str, lines: int) -> int:
    """How many of ``lines`` points an answer says were refused. InfluxDB 1.x counts points its engine
    refused as ``dropped=N`` but lists lines it could not parse (``unable to parse '...'``) apart, and
    a write whose every bad point had one error says only that error ("field type conflict"):
    then, and for VictoriaMetrics (which refuses a whole request), all ``lines``."""
    dropped = sum(int(n) for n in re.findall(r"dropped=(\d+)", text))
    unparsable = text.count("unable to parse")
    return dropped + unparsable if "partial write" in text else lines


def _classify(status: int, text: str, lines: int, where: str) -> StorageError:
    text = " ".join(text.split())
    if status >= 500 or status in RETRYABLE:
        return TSDBUnavailable(f"{where} answered {status}: {text[:300]}")
    if status == 413 or "too large" in text.lower():
        return TSDBRejected(f"{where} refused the write as too large ({status}): {text[:300]}", lines, too_large=True)
    return TSDBRejected(f"{where} rejected points ({status}): {text[:300]}", refused_count(text, lines))


class InfluxV1Writer:
    """InfluxDB 1.x: ``POST /write?db=&rp=&precision=ns``, basic auth when a username is set."""

    def __init__(self, config: InfluxConfig, password: str | None = None) -> None:
        assert config.database is not None
        self.config = config
        self._params = {"db": config.database, "precision": "ns"}
        if config.retention_policy:
            self._params["rp"] = config.retention_policy
        auth = (config.username, password or "") if config.username else None
        self._client = httpx.AsyncClient(base_url=config.url, timeout=config.timeout, auth=auth)
        self._created = False

    async def write(self, lines: list[str]) -> None:
        status, text = await self._post("/write", params=self._params, content="\n".join(lines).encode())
        if status == 404 and "database not found" in text and not self._created:
            # Debian's influxd starts empty; CREATE DATABASE is idempotent and needs no admin on a fresh server.
            self._created = True
            await self._post("/query", params={}, data={"q": f'CREATE DATABASE "{self.config.database}"'})
            status, text = await self._post("/write", params=self._params, content="\n".join(lines).encode())
        if status != 204:
            raise _classify(status, text, len(lines), f"InfluxDB {self.config.url}")

    async def _post(self, path: str, params: dict[str, str], content: bytes | None = None,
                    data: dict[str, str] | None = None) -> tuple[int, str]:
        try:
            response = await self._client.post(path, params=params, content=content, data=data)
        except httpx.HTTPError as exc:
            raise TSDBUnavailable(f"InfluxDB {self.config.url} unreachable: {exc!r}") from exc
        return response.status_code, response.text

    async def aclose(self) -> None:
        await self._client.aclose()


class InfluxV2Writer:
    """InfluxDB 2.x/3.x, VictoriaMetrics and other ``/api/v2/write`` stores, via influxdb-client."""

    def __init__(self, config: InfluxConfig, token: str | None = None) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        assert config.org is not None and config.bucket is not None
        self.config = config
        self._org, self._bucket = config.org, config.bucket
        self._client = InfluxDBClient(url=config.url, token=token or "", org=config.org,
                                      timeout=int(config.timeout * 1000))
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    async def write(self, lines: list[str]) -> None:
        await asyncio.to_thread(self._write, "\n".join(lines), len(lines))

    def _write(self, body: str, count: int) -> None:
        from influxdb_client.client.exceptions import InfluxDBError
        from influxdb_client.domain.write_precision import WritePrecision
        from urllib3.exceptions import HTTPError as Urllib3Error

        where = f"InfluxDB v2 API {self.config.url}"
        try:
            self._api.write(bucket=self._bucket, org=self._org, record=body,
                            write_precision=WritePrecision.NS)  # type: ignore[arg-type]
        except InfluxDBError as exc:
            status = getattr(exc, "status", None) or (exc.response.status if exc.response is not None else 0)
            body_text = getattr(exc, "body", None) or exc.message or ""
            if isinstance(body_text, bytes):
                body_text = body_text.decode(errors="replace")
            if not status:
                raise TSDBUnavailable(f"{where} unreachable: {exc}") from exc
            raise _classify(int(status), str(body_text), count, where) from exc
        except (Urllib3Error, OSError) as exc:
            raise TSDBUnavailable(f"{where} unreachable: {exc!r}") from exc

    async def aclose(self) -> None:
        await asyncio.to_thread(self._client.close)


def make_writer(config: InfluxConfig, secrets: dict[str, str]) -> TsdbWriter:
    if config.api == "v1":
        return InfluxV1Writer(config, secrets.get("password"))
    return InfluxV2Writer(config, secrets.get("token"))
