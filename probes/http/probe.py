"""http: can this office reach a shared platform, and how fast does it answer?

One task per platform. Each run resolves the host name itself (``dns_seconds``), then
sends one GET over a **fresh** connection to the resolved address with the original Host
header and TLS server name, so every run measures connect and TLS as a first visit does.
Phase times come from httpcore's ``trace`` extension (see ``timing.py``); they are the
durations of each phase, not cumulative like curl's: ``first_byte_seconds`` is from the
request being sent to the response headers (server think time + one round trip),
``total_seconds`` is DNS plus connect-to-last-body-byte (the body capped at
``max_body_bytes``): the exchange itself. The TLS context, the client and whatever Python
loads on first use are prepared once per probe before any clock starts, so the phases agree
with ``curl -w`` against the same server (tests/probes/test_http.py checks it, plain and TLS).

Status: expected HTTP status -> ok; another status -> degraded (the platform answers, but
not as it should); no answer (DNS, refused, timeout, TLS not trusted) -> failed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import time
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from netmon.config.site import PlatformConfig
from netmon.config.units import Bytes, PositiveSeconds
from netmon.contract import Observation, ProbeKind, Status
from netmon.probes.base import ProbeContext, ProbeOptions, ProbeTask, Scope
from netmon.probes.http.failures import describe, describe_statuses
from netmon.probes.http.timing import PhaseTimer

if TYPE_CHECKING:
    import httpx

# inside probes.runner's grace period, so our own reason wins over "cut off"
BACKSTOP_SECONDS = 0.5


class HttpOptions(ProbeOptions):
    interval: PositiveSeconds = 60.0
    timeout: PositiveSeconds = 10.0
    max_body_bytes: Bytes = Field(default=1 << 20, description="stop reading the body after this many bytes")
    user_agent: str = "netmon-agent/0.1 (+platform reachability probe)"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _wire_name(host: str) -> bytes:
    """The name as DNS carries it. ASCII names skip Python's idna codec, whose first use
    imports unicodedata/stringprep (tens of ms) and would be timed as DNS."""
    try:
        return host.encode("ascii")
    except UnicodeEncodeError:
        return host.encode("idna")


class HttpProbe:
    kind: ClassVar[ProbeKind] = ProbeKind.HTTP
    Options: ClassVar[type[ProbeOptions]] = HttpOptions
    scope: ClassVar[Scope] = "platform"
    link_section: ClassVar[str | None] = None

    def __init__(self, context: ProbeContext) -> None:
        self.context = context
        self._clients: dict[tuple[bool, str | None], httpx.AsyncClient] = {}

    async def _client(self, platform: PlatformConfig) -> httpx.AsyncClient:
        """One client per (verify, CA file), built before any clock starts and kept for the
        probe's life: loading a CA store costs 30-70 ms of CPU (more on a weak box), and httpx
        loads one even for ``http://`` URLs. No keep-alive, so every run still opens a fresh
        connection and times connect and TLS as a first visit does."""
        # imported here, not at module level: only agents with platforms to probe pay for
        # them (~120 ms, ~20 MB)
        import anyio.lowlevel
        import httpx

        key = (platform.verify_tls, platform.ca_file)
        client = self._clients.get(key)
        if client is None:
            # the system store (Debian's ca-certificates), or the platform's own CA
            tls = ssl.create_default_context(cafile=platform.ca_file)
            if not platform.verify_tls:
                tls.check_hostname = False
                tls.verify_mode = ssl.CERT_NONE
            client = httpx.AsyncClient(verify=tls, trust_env=False,
                                       limits=httpx.Limits(max_keepalive_connections=0))
            # The first request would load anyio's asyncio backend (~40 ms) and the first name
            # lookup would start the loop's resolver thread: both now, not inside a run's clock
            await anyio.lowlevel.checkpoint()
            await asyncio.get_running_loop().run_in_executor(None, time.perf_counter)
            self._clients[key] = client
        return client

    async def measure(self, task: ProbeTask) -> Observation:
        options = task.options_as(HttpOptions)
        if task.platform is None:
            return task.observe(Status.ERROR, reason="http task without a platform")
        platform = task.platform
        try:
            client = await self._client(platform)
        except (OSError, ssl.SSLError) as exc:
            return task.observe(Status.ERROR, reason=f"cannot load CA file {platform.ca_file}: {exc}")

        import httpx

        url = httpx.URL(platform.url)
        values: dict[str, float] = {}
        started = time.perf_counter()
        try:
            # httpx enforces ``timeout`` per phase and names the phase; this backstop covers
            # the sum of the phases and DNS, which has no timeout of its own
            async with asyncio.timeout(options.timeout + BACKSTOP_SECONDS):
                return await self._exchange(task, options, platform, client, url, values, started)
        except TimeoutError:
            values["total_seconds"] = time.perf_counter() - started
            return task.observe(Status.FAILED, values=values,
                                reason=f"no complete answer from {platform.url} within "
                                       f"{options.timeout + BACKSTOP_SECONDS:g} s")

    async def _exchange(self, task: ProbeTask, options: HttpOptions, platform: PlatformConfig,
                        client: httpx.AsyncClient, url: httpx.URL, values: dict[str, float],
                        started: float) -> Observation:
        import httpx

        host, port = url.host, url.port or (443 if url.scheme == "https" else 80)
        where = f"{host}:{port}"
        address = host
        if not _is_ip(host):
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(_wire_name(host), port,
                                                                     type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError) as exc:
                values["dns_seconds"] = values["total_seconds"] = time.perf_counter() - started
                return task.observe(Status.FAILED, values=values, reason=f"cannot resolve {host}: {exc}")
            values["dns_seconds"] = time.perf_counter() - started
            address = str(infos[0][4][0])
            where = f"{host} ({address}):{port}"
        timer = PhaseTimer()
        extensions: dict[str, object] = {"trace": timer.trace}
        if url.scheme == "https" and address != host:
            extensions["sni_hostname"] = host  # certificate checked against the name, not the address
        request_url = url.copy_with(host=address)
        headers = {"Host": url.netloc.decode("ascii"), "User-Agent": options.user_agent}
        status_code, body_bytes, truncated = 0, 0, False
        try:
            async with client.stream("GET", request_url, headers=headers, extensions=extensions,
                                     timeout=httpx.Timeout(options.timeout)) as response:
                status_code = response.status_code
                async for chunk in response.aiter_raw():
                    body_bytes += len(chunk)
                    if body_bytes >= options.max_body_bytes:
                        truncated = True
                        break
                body_done = time.perf_counter()
        except httpx.HTTPError as exc:
            values.update(timer.phases())
            values["total_seconds"] = time.perf_counter() - started
            self._cert_days(timer, values)
            return task.observe(Status.FAILED, values=values, reason=describe(exc, where, options.timeout))
        values.update(timer.phases())
        # DNS, then connect to the last body byte: the exchange itself, not the client's own
        # bookkeeping between the two or the closing of the connection after it
        values["total_seconds"] = values.get("dns_seconds", 0.0) + body_done - timer.stamps.get(
            "connection.connect_tcp.started", started + values.get("dns_seconds", 0.0))
        values["status_code"] = float(status_code)
        values["response_bytes"] = float(body_bytes)
        self._cert_days(timer, values)
        info = {"address": address}
        if truncated:
            info["body"] = f"read stopped at {options.max_body_bytes} bytes"
        if status_code not in platform.expect_status:
            return task.observe(Status.DEGRADED, values=values, info=info, reason=(
                f"HTTP {status_code} {response.reason_phrase} from {platform.url}, "
                f"expected {describe_statuses(platform.expect_status)}"))
        return task.observe(Status.OK, values=values, info=info)

    @staticmethod
    def _cert_days(timer: PhaseTimer, values: dict[str, float]) -> None:
        not_after = timer.cert_not_after()
        if not_after is not None:
            values["cert_days_left"] = (not_after - dt.datetime.now(dt.UTC)).total_seconds() / 86400

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
