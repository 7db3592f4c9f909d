"""The agent's HTTP client of the collector: the batch body, the bearer token, one request, and
which of the configured collectors it goes to.

With several collectors (``collector.urls``) a request that gets no answer, or a 5xx, is sent to
the next one at once, and the agent stays there: a dead collector costs one failed connection
(refused at once, or ``connect_timeout``, 5 s), not a shipping interval. ``failback_after``
(5 min) after leaving the first (the site's home collector), the next request goes to the first
again; if it still fails, on to the next within the same request. A 429 is per collector and
per site: the agent waits as asked instead of taking its backlog to another collector. Plan
polls use the same client, so they follow the same collector.

A 503 with ``X-Netmon-Cut-Off`` is a collector that has lost the shared state (PostgreSQL) while
this agent still reaches it: the agent moves on like on any 5xx. When every collector that answers says so
(PostgreSQL itself is down, or one collector is all there is), the same request goes again with
``X-Netmon-Last-Resort: 1``, which they accept, and so do this agent's requests for the next
``LAST_RESORT_SECONDS``: its results wait at the centre rather than on this box.

httpx exceptions become ``CollectorUnreachable`` here, where they enter; what an answer
means is ``probes.agent.answer``. Every answer's ``Date`` gives the agent's clock offset from
the collector's (``clock_offset_seconds``, ±1 s), sent back with each upload
(``X-Netmon-Clock-Offset``) so the centre shows sites whose clocks are off.
"""

from __future__ import annotations

import email.utils
import gzip
import json
import logging
import socket
import ssl
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from netmon.config.site import CollectorConnection
from netmon.contract import CLOCK_OFFSET_HEADER, CUT_OFF_HEADER, LAST_RESORT_HEADER, SCHEMA_VERSION
from netmon.errors import CollectorRejected, CollectorUnreachable
from netmon.probes.agent.answer import Settlement, settlement_of
from netmon.probes.agent.outbox import Queued

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)
RESULTS_PATH = "/api/v1/results"
# One connection (and one TLS session) for the agent's life rather than one per batch: httpx drops
# idle connections after 5 s by default, shorter than any ship interval. Kept below the collector's
# own idle limit (listen.keep_alive_seconds, 75 s; nginx's default is 75 s too) so the collector
# is not the one closing a connection the agent is about to use.
KEEPALIVE_SECONDS = 60.0
# Closing a connection discards what the kernel has not yet delivered (SO_LINGER 0: RST, not FIN).
# A request the agent gave up on (timeout, line down) must not reach the collector minutes later
# from the kernel's retransmit queue: the results are still in the outbox and will be resent, so
# the old copy would only compete for a thin line, and if the outbox overflowed meanwhile the
# agent would count as dropped what in fact arrived.
ABORT_ON_CLOSE = [(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))]
# once every collector said cut off, ask for the last resort at once this long (not 2 refusals a batch)
LAST_RESORT_SECONDS = 60.0


def skip_httpx_cli() -> None:
    """Keep httpx's command-line client out of this process (the agent's, and its http probe's httpx).

    httpx's ``__init__`` imports its CLI (click, rich, pygments: ~6 MB resident here) whenever
    those happen to be installed. The agent never runs it, and httpx falls back to a stub when
    that import fails — its own path for installs without ``httpx[cli]``.
    """
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def lean_httpx() -> ModuleType:
    """httpx, imported only by an agent that ships (a site trial without a collector never pays for it)."""
    skip_httpx_cli()
    import httpx

    return httpx


def batch_body(items: list[Queued], *, site_id: str, agent_id: str, dropped_total: int) -> bytes:
    """The ``ResultBatch`` JSON, gzip-compressed. Rows are spliced in as stored: they were
    serialised from validated ``ResultRecord``s, and re-parsing them would only cost CPU."""
    header = json.dumps({"schema_version": SCHEMA_VERSION, "site_id": site_id, "agent_id": agent_id,
                         "sent_at_ns": time.time_ns(), "dropped_total": dropped_total})
    text = header[:-1] + ', "results": [' + ", ".join(q.body for q in items) + "]}"
    return gzip.compress(text.encode(), compresslevel=6)


def read_token(path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CollectorRejected(401, f"cannot read token file {path}: {exc.strerror}") from None
    if not token:
        raise CollectorRejected(401, f"token file {path} is empty")
    return token


class CollectorClient:
    """Holds the HTTP client (connection reuse, private CA), the bearer token and the collector in use.
    ``on_switch(reason, index)`` is told each move (reason ``failover`` or ``failback``)."""

    def __init__(self, connection: CollectorConnection, *, site_id: str, agent_id: str,
                 on_switch: Callable[[str, int], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.connection = connection
        self.site_id = site_id
        self.agent_id = agent_id
        self.urls = connection.collector_urls
        self.active = 0
        self._left_first_at = 0.0
        self._on_switch = on_switch or (lambda reason, index: None)
        self._clock = clock
        # A private CA file when given; the system's CAs for other https; none for plain http
        # (httpx would otherwise load its whole CA bundle, ~3 MB resident, for nothing).
        verify: ssl.SSLContext | bool = any(u.startswith("https://") for u in self.urls)
        if connection.ca_file:  # a context of our own: httpx deprecated verify=<path>
            verify = ssl.create_default_context(cafile=connection.ca_file)
        self._httpx = lean_httpx()
        transport = self._httpx.AsyncHTTPTransport(
            verify=verify, limits=self._httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS), socket_options=ABORT_ON_CLOSE)
        timeout = self._httpx.Timeout(connection.request_timeout,
                                      connect=min(connection.connect_timeout, connection.request_timeout))
        self.http: httpx.AsyncClient = self._httpx.AsyncClient(timeout=timeout, transport=transport)
        self._token: str | None = None
        self._last_resort_until = float("-inf")
        self.clock_offset_seconds: float | None = None  # this agent's clock minus the collector's
        self.on_clock_offset: Callable[[float], None] = lambda seconds: None

    def _note_clock(self, date: str | None, sent: float, received: float) -> None:
        """``Date`` has whole seconds: the collector's time was in [Date, Date + 1) while it answered."""
        try:
            server = email.utils.parsedate_to_datetime(date).timestamp() + 0.5 if date else None
        except (TypeError, ValueError):
            server = None
        if server is not None:
            self.clock_offset_seconds = round((sent + received) / 2 - server, 3)
            self.on_clock_offset(self.clock_offset_seconds)

    @property
    def url(self) -> str:
        """The collector requests go to now."""
        return self.urls[self.active]

    def token(self, reload: bool = False) -> str:
        if self._token is None or reload:
            self._token = read_token(self.connection.token_file)
        return self._token

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token()}", **kwargs.pop("headers", {})}
        if self._clock() < self._last_resort_until:
            headers[LAST_RESORT_HEADER] = "1"
        if self.active != 0 and self._clock() - self._left_first_at >= self.connection.failback_after:
            log.info("trying the first collector %s again", self.urls[0])
            self._switch(0, "failback")
        answered = cut_off = 0
        for attempt in range(len(self.urls)):
            url = self.url
            last = attempt == len(self.urls) - 1
            try:
                response = await self._send(method, url + path, headers, kwargs)
            except CollectorUnreachable as exc:
                if last:
                    raise
                self._fail_over(str(exc))
                continue
            answered += 1
            cut_off += response.status_code == 503 and CUT_OFF_HEADER in response.headers
            if response.status_code >= 500 and not last:
                self._fail_over(f"{method} {url}{path} answered {response.status_code}")
                continue
            # every collector that answered is cut off (the others are down): none can do better
            if cut_off and cut_off == answered and LAST_RESORT_HEADER not in headers:
                log.warning("every collector answered that it is cut off from the shared state; sending with %s "
                            "for the next %.0f s", LAST_RESORT_HEADER, LAST_RESORT_SECONDS)
                self._last_resort_until = self._clock() + LAST_RESORT_SECONDS
                headers[LAST_RESORT_HEADER] = "1"
                response = await self._send(method, url + path, headers, kwargs)
            if response.status_code in {401, 403}:
                self._token = None  # the operator may have put a new token in place: read it next time
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _send(self, method: str, url: str, headers: dict[str, str], kwargs: dict[str, Any]) -> httpx.Response:
        """One request; no answer at all is ``CollectorUnreachable`` (logged by the caller when it moves on)."""
        sent = time.time()
        try:
            response = await self.http.request(method, url, headers=headers, **kwargs)
        except self._httpx.HTTPError as exc:
            raise CollectorUnreachable(f"{method} {url}: {type(exc).__name__}: {exc or 'no detail'}") from None
        self._note_clock(response.headers.get("date"), sent, time.time())
        return response

    def _fail_over(self, why: str) -> None:
        following = (self.active + 1) % len(self.urls)
        log.warning("%s; moving to collector %s", why, self.urls[following])
        self._switch(following, "failover")

    def _switch(self, index: int, reason: str) -> None:
        if self.active == 0 and index != 0:
            self._left_first_at = self._clock()
        self.active = index
        self._on_switch(reason, index)

    async def post(self, items: list[Queued], dropped_total: int) -> Settlement:
        body = batch_body(items, site_id=self.site_id, agent_id=self.agent_id, dropped_total=dropped_total)
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        if self.clock_offset_seconds is not None:
            headers[CLOCK_OFFSET_HEADER] = f"{self.clock_offset_seconds:.3f}"
        response = await self.request("POST", RESULTS_PATH, content=body, headers=headers)
        return settlement_of(response, items)

    async def aclose(self) -> None:
        await self.http.aclose()
