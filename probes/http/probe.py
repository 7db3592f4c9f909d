"""http: can this office reach a shared platform, and how fast does it answer?

One task per platform. Each run resolves the host name itself (``dns_seconds``), then
sends one GET over a **fresh** connection to the resolved address with the original Host
header and TLS server name, so every run measures connect and TLS as a first visit does.
Phase times come from httpcore's ``trace`` extension (see ``timing.py``); they are the
durations of each phase, not cumulative like curl's: ``first_byte_seconds`` is from the
request being sent to the response headers (server think time + one round trip),
``total_seconds`` is the whole run including DNS and reading the body (capped at
``max_body_bytes``).

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
from typing import ClassVar

from pydantic import Field

from netmon.config.site import PlatformConfig
from netmon.config.units import Bytes, PositiveSeconds
from netmon.contract import Observation, ProbeKind, Status
from netmon.probes.base import ProbeContext, ProbeOptions, ProbeTask, Scope
from netmon.probes.http.failures import describe, describe_statuses
from netmon.probes.http.timing import PhaseTimer

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
        self._tls: dict[tuple[bool, str | None], ssl.SSLContext] = {}

    def _tls_context(self, platform: PlatformConfig) -> ssl.SSLContext:
        """One SSL context per (verify, CA file): loading a CA store costs milliseconds of CPU."""
        key = (platform.verify_tls, platform.ca_file)
        context = self._tls.get(key)
        if context is None:
            # the system store (Debian's ca-certificates), or the platform's own CA
            context = ssl.create_default_context(cafile=platform.ca_file)
            if not platform.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._tls[key] = context
        return context

    async def measure(self, task: ProbeTask) -> Observation:
        options = task.options_as(HttpOptions)
        if task.platform is None:
            return task.observe(Status.ERROR, reason="http task without a platform")
        platform = task.platform
        try:
            tls = self._tls_context(platform) if platform.url.startswith("https") else None
        except (OSError, ssl.SSLError) as exc:
            return task.observe(Status.ERROR, reason=f"cannot load CA file {platform.ca_file}: {exc}")
        # imported here, not at module level: only agents with platforms to probe pay for it
        # (~120 ms, ~20 MB), and before the clock starts so the first run's DNS time is DNS
        import httpx  # noqa: F401

        values: dict[str, float] = {}
        started = time.perf_counter()
        try:
            # httpx enforces ``timeout`` per phase and names the phase; this backstop covers
            # the sum of the phases and DNS, which has no timeout of its own
            async with asyncio.timeout(options.timeout + BACKSTOP_SECONDS):
                return await self._exchange(task, options, platform, tls, values, started)
        except TimeoutError:
            values["total_seconds"] = time.perf_counter() - started
            return task.observe(Status.FAILED, values=values,
                                reason=f"no complete answer from {platform.url} within "
                                       f"{options.timeout + BACKSTOP_SECONDS:g} s")

    async def _exchange(self, task: ProbeTask, options: HttpOptions, platform: PlatformConfig,
                        tls: ssl.SSLContext | None, values: dict[str, float], started: float) -> Observation:
        import httpx

        url = httpx.URL(platform.url)
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
        async with httpx.AsyncClient(verify=tls if tls is not None else True, trust_env=False,
                                     timeout=httpx.Timeout(options.timeout),
                                     limits=httpx.Limits(max_keepalive_connections=0)) as client:
            try:
                async with client.stream("GET", request_url, headers=headers, extensions=extensions) as response:
                    status_code = response.status_code
                    async for chunk in response.aiter_raw():
                        body_bytes += len(chunk)
                        if body_bytes >= options.max_body_bytes:
                            truncated = True
                            break
            except httpx.HTTPError as exc:
                values.update(timer.phases())
                values["total_seconds"] = time.perf_counter() - started
                self._cert_days(timer, values)
                return task.observe(Status.FAILED, values=values, reason=describe(exc, where, options.timeout))
        values.update(timer.phases())
        values["total_seconds"] = time.perf_counter() - started
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
        self._tls.clear()
