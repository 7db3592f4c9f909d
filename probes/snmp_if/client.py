"""A small SNMP GET/walk client on pysnmp 7's asyncio HLAPI, with errors converted at the boundary.

- One ``SnmpEngine`` per credential set, shared by every task that uses it (an engine holds
  the USM state of its users: two different keys for one user name need two engines).
- Requests are bounded by a semaphore: hundreds of unbounded concurrent GETs overflow the
  UDP receive buffer and turn into timeouts.
- Numeric OIDs with ``lookupMib=False``: no MIB files are needed or loaded.
- pysnmp's error indications, error statuses and exceptions become ``SnmpFailure`` with a
  reason a NOC operator can act on.
- SNMPv1, v2c and v3. A v1 agent answers a GET naming an object it lacks with
  ``noSuchName`` for the whole PDU (v2c marks just that var-bind): ``get(...,
  missing_ok=True)`` drops the named object and asks again, so both read the same; v1 has
  no GETBULK, so walks use GETNEXT.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from netmon.config.site import SnmpConfig, SnmpVersion
from netmon.errors import MissingInstance, SnmpCredentialsUnusable, SnmpFailure

_AUTH = {
    "md5": "USM_AUTH_HMAC96_MD5", "sha": "USM_AUTH_HMAC96_SHA", "sha224": "USM_AUTH_HMAC128_SHA224",
    "sha256": "USM_AUTH_HMAC192_SHA256", "sha384": "USM_AUTH_HMAC256_SHA384", "sha512": "USM_AUTH_HMAC384_SHA512",
}
_PRIV = {"des": "USM_PRIV_CBC56_DES", "aes": "USM_PRIV_CFB128_AES", "aes192": "USM_PRIV_CFB192_AES",
         "aes256": "USM_PRIV_CFB256_AES"}


def _read_key(inline: str | None, path: str | None, what: str) -> str:
    if inline:
        return inline
    if path is None:
        raise SnmpCredentialsUnusable(f"SNMPv3 {what} is not configured")
    try:
        key = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SnmpCredentialsUnusable(f"cannot read SNMPv3 {what} file {path}: {exc.strerror or exc}") from None
    if not key:
        raise SnmpCredentialsUnusable(f"SNMPv3 {what} file {path} is empty")
    return key


def _describe_indication(indication: Any, cfg: SnmpConfig) -> str:
    name = type(indication).__name__
    where = f"SNMP agent {cfg.host}:{cfg.port}"
    if name == "RequestTimedOut":
        return (f"{where} did not answer within {cfg.timeout:g} s ({cfg.retries} retries): "
                "agent down, unreachable, or wrong community/credentials")
    if name == "WrongDigest":
        return f"{where} rejected SNMPv3 authentication (wrong digest): check auth_key and auth_protocol"
    if name in {"DecryptionError", "EncryptionError"}:
        return f"{where}: SNMPv3 privacy failed ({indication}): check priv_key and priv_protocol"
    if name == "UnknownUserName":
        return f"{where} does not know SNMPv3 user {cfg.user!r}"
    if name == "UnsupportedSecurityLevel":
        return f"{where} refused the security level for user {cfg.user!r} (authPriv expected)"
    return f"{where}: {indication}"


# SNMPv1 error-status noSuchName (RFC 1157): the object named by error-index does not exist
NO_SUCH_NAME = 2


def _context(cfg: SnmpConfig) -> Any:
    from pysnmp.hlapi.v3arch import asyncio as hlapi

    return hlapi.ContextData(contextName=cfg.context_name.encode()) if cfg.context_name else hlapi.ContextData()


class SnmpClient:
    def __init__(self, max_concurrent_requests: int = 32) -> None:
        self._engines: dict[str, Any] = {}
        self._targets: dict[tuple[str, int, float, int], Any] = {}
        self._limit = asyncio.Semaphore(max_concurrent_requests)

    def _credentials(self, cfg: SnmpConfig) -> tuple[str, Any]:
        from pysnmp.hlapi.v3arch import asyncio as hlapi

        if cfg.version is not SnmpVersion.V3:
            community = cfg.community or ""
            model = 0 if cfg.version is SnmpVersion.V1 else 1
            return f"v{cfg.version.value}\0{community}", hlapi.CommunityData(community, mpModel=model)
        auth_key = _read_key(cfg.auth_key, cfg.auth_key_file, "auth key")
        priv_key = _read_key(cfg.priv_key, cfg.priv_key_file, "priv key")
        identity = "\0".join(("v3", cfg.user or "", cfg.auth_protocol, auth_key, cfg.priv_protocol, priv_key))
        data = hlapi.UsmUserData(cfg.user, auth_key, priv_key, authProtocol=getattr(hlapi, _AUTH[cfg.auth_protocol]),
                                 privProtocol=getattr(hlapi, _PRIV[cfg.priv_protocol]))
        return identity, data

    async def _session(self, cfg: SnmpConfig) -> tuple[Any, Any, Any]:
        from pysnmp.error import PySnmpError
        from pysnmp.hlapi.v3arch import asyncio as hlapi

        identity, auth = self._credentials(cfg)
        # keyed by a digest so keys do not sit in a dict key that might get logged
        fingerprint = hashlib.sha256(identity.encode()).hexdigest()
        engine = self._engines.get(fingerprint)
        if engine is None:
            engine = self._engines[fingerprint] = hlapi.SnmpEngine()
        key = (cfg.host, cfg.port, cfg.timeout, cfg.retries)
        target = self._targets.get(key)
        if target is None:
            kind = hlapi.Udp6TransportTarget if ":" in cfg.host else hlapi.UdpTransportTarget
            try:
                target = await kind.create((cfg.host, cfg.port), timeout=cfg.timeout, retries=cfg.retries)
            except (PySnmpError, OSError) as exc:
                raise SnmpFailure(f"SNMP agent address {cfg.host}:{cfg.port} is not usable: {exc}") from None
            self._targets[key] = target
        return engine, auth, target

    def _limit_seconds(self, cfg: SnmpConfig) -> float:
        # pysnmp enforces the timeout itself; this is a backstop so no request hangs a task
        return cfg.timeout * (cfg.retries + 1) + 1.0

    async def get(self, cfg: SnmpConfig, oids: Sequence[str], missing_ok: bool = False) -> dict[str, Any]:
        """GET ``oids`` in one PDU; returns {oid: value}.

        An object the agent does not have raises ``MissingInstance``, or with ``missing_ok``
        is left out of the answer (the caller decides what its absence means).
        """
        from pysnmp.proto.rfc1905 import EndOfMibView, NoSuchInstance, NoSuchObject

        wanted = list(oids)
        missing: list[str] = []
        var_binds: Any = ()
        while wanted:
            status, index, var_binds = await self._get_once(cfg, wanted)
            position = int(index) if index else 0
            if status and int(status) == NO_SUCH_NAME and 0 < position <= len(wanted):
                # SNMPv1: the agent names the first object it lacks; ask again without it
                missing.append(wanted.pop(position - 1))
                var_binds = ()
                continue
            if status:
                at = wanted[position - 1] if 0 < position <= len(wanted) else "?"
                raise SnmpFailure(f"SNMP agent {cfg.host}:{cfg.port} answered {status.prettyPrint()} for {at}")
            break

        out: dict[str, Any] = {}
        for name, value in var_binds:
            if isinstance(value, NoSuchInstance | NoSuchObject | EndOfMibView):
                missing.append(str(name))
            else:
                out[str(name)] = value
        if missing and not missing_ok:
            raise MissingInstance(f"SNMP agent {cfg.host}:{cfg.port} has no {', '.join(missing)}")
        return out

    async def _get_once(self, cfg: SnmpConfig, oids: Sequence[str]) -> tuple[Any, Any, Any]:
        from pysnmp.error import PySnmpError
        from pysnmp.hlapi.v3arch import asyncio as hlapi

        engine, auth, target = await self._session(cfg)
        objects = [hlapi.ObjectType(hlapi.ObjectIdentity(oid)) for oid in oids]
        try:
            async with self._limit:
                indication, status, index, var_binds = await asyncio.wait_for(
                    hlapi.get_cmd(engine, auth, target, _context(cfg), *objects, lookupMib=False),
                    self._limit_seconds(cfg))
        except TimeoutError:
            raise SnmpFailure(f"SNMP agent {cfg.host}:{cfg.port} did not answer in time") from None
        except (PySnmpError, OSError) as exc:
            raise SnmpFailure(f"SNMP request to {cfg.host}:{cfg.port} failed: {exc}") from None
        if indication:
            raise SnmpFailure(_describe_indication(indication, cfg))
        return status, index, var_binds

    async def walk(self, cfg: SnmpConfig, column: str, max_rows: int = 10_000) -> dict[str, Any]:
        """All rows of one table column (GETBULK; GETNEXT for SNMPv1): {full oid: value}."""
        from pysnmp.error import PySnmpError
        from pysnmp.hlapi.v3arch import asyncio as hlapi

        engine, auth, target = await self._session(cfg)
        rows: dict[str, Any] = {}

        start = hlapi.ObjectType(hlapi.ObjectIdentity(column))
        options: dict[str, Any] = {"lookupMib": False, "lexicographicMode": False, "maxRows": max_rows}
        if cfg.version is SnmpVersion.V1:
            steps = hlapi.walk_cmd(engine, auth, target, _context(cfg), start, **options)
        else:
            steps = hlapi.bulk_walk_cmd(engine, auth, target, _context(cfg), 0, 25, start, **options)

        async def collect() -> None:
            while True:
                try:
                    # each request of a walk gets the backstop, however many rows it has
                    indication, status, _index, var_binds = await asyncio.wait_for(
                        anext(steps), self._limit_seconds(cfg))
                except StopAsyncIteration:
                    return
                if indication:
                    raise SnmpFailure(_describe_indication(indication, cfg))
                if status:
                    raise SnmpFailure(f"SNMP agent {cfg.host}:{cfg.port} answered {status.prettyPrint()} "
                                      f"walking {column}")
                for name, value in var_binds:
                    rows[str(name)] = value

        try:
            async with self._limit:
                await collect()
        except TimeoutError:
            raise SnmpFailure(f"SNMP agent {cfg.host}:{cfg.port} stopped answering while walking {column}") from None
        except (PySnmpError, OSError) as exc:
            raise SnmpFailure(f"SNMP walk of {column} on {cfg.host}:{cfg.port} failed: {exc}") from None
        finally:
            await steps.aclose()
        return rows

    async def aclose(self) -> None:
        for engine in self._engines.values():
            # closing must not fail the agent's shutdown
            with contextlib.suppress(Exception):
                engine.close_dispatcher()
        self._engines.clear()
        self._targets.clear()
