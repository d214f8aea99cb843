"""Proxmox VE over its HTTPS API with an API token, through ``proxmoxer``.

``proxmoxer`` is synchronous (``requests`` underneath), so every call runs in a worker thread
with the library's own socket timeout plus an overall bound. Its exceptions are translated
once, in :meth:`ProxmoxConnector._call` for reads and :meth:`ProxmoxConnector._mutate` for
changes, which are sent once: a failure after the request may have arrived (no answer, a
reset, a gateway's 502/504) is :class:`ConnectorOutcomeUnknown`. A plain 500 with a reason is
Proxmox refusing the change (``CT 104 not running``), so it stays a permanent refusal.
Payloads are parsed at the edge into :class:`ProxmoxNode` and :class:`ProxmoxGuest`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import requests
import urllib3
from proxmoxer import ProxmoxAPI, ResourceException
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mission_control.connectors.errors import (
    MUTATION_TIMEOUT_SECONDS,
    ConnectorAuthError,
    ConnectorForbidden,
    ConnectorNotFound,
    ConnectorOutcomeUnknown,
    ConnectorRequestError,
    ConnectorUnavailable,
)
from mission_control.errors import first_line
from mission_control.settings import ProxmoxSettings

__all__ = ["GuestKind", "ProxmoxConnector", "ProxmoxGuest", "ProxmoxNode"]

log = logging.getLogger(__name__)

GuestKind = Literal["qemu", "lxc"]
T = TypeVar("T")

#: Status codes the Proxmox proxy uses for "could not reach the node" (AnyEvent::HTTP) and
#: the usual gateway errors; anything else in 5xx is Proxmox reporting a failed operation.
_UNREACHABLE_STATUSES = frozenset({502, 503, 504, 595, 596, 597, 599})

#: A Proxmox node name (a host name label). Checked before it becomes part of a URL path:
#: proxmoxer splits on "/" and joins without escaping, so ``pve/../..`` would reach another
#: endpoint and an empty name would drop the segment.
_NODE_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?")
#: Proxmox VE guest ids.
_VMID_RANGE = range(100, 1_000_000_000)


@dataclass(frozen=True, kw_only=True)
class ProxmoxNode:
    """A Proxmox VE cluster node."""

    name: str
    status: str  # online | offline | unknown
    cpu: float  # fraction of all cores in use, 0..1
    max_cpu: int
    memory_bytes: int
    max_memory_bytes: int
    uptime_seconds: int


@dataclass(frozen=True, kw_only=True)
class ProxmoxGuest:
    """A QEMU virtual machine or an LXC container."""

    kind: GuestKind
    vmid: int
    name: str
    node: str
    status: str  # running | stopped | paused | unknown ...
    cpu: float  # fraction of its cores in use, 0..1
    max_cpu: int
    memory_bytes: int
    max_memory_bytes: int
    uptime_seconds: int
    template: bool
    tags: tuple[str, ...]


class _NodeWire(BaseModel):
    model_config = ConfigDict(extra="ignore")
    node: str
    status: str = "unknown"
    cpu: float = 0.0
    maxcpu: int = 0
    mem: int = 0
    maxmem: int = 0
    uptime: int = 0


class _ResourceWire(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    vmid: int
    node: str
    name: str = ""
    status: str = "unknown"
    cpu: float = 0.0
    maxcpu: int = 0
    mem: int = 0
    maxmem: int = 0
    uptime: int = 0
    template: int = 0
    tags: str = ""


class _LxcStatusWire(BaseModel):
    model_config = ConfigDict(extra="ignore")
    vmid: int | str
    name: str = ""
    status: str = "unknown"
    cpu: float = 0.0
    cpus: int = Field(default=0)
    mem: int = 0
    maxmem: int = 0
    uptime: int = 0


def _split_token(raw: str) -> tuple[str, str, str]:
    """``USER@REALM!TOKENID=SECRET`` -> (``USER@REALM``, ``TOKENID``, ``SECRET``)."""
    ident, _, secret = raw.partition("=")
    user, _, token_name = ident.partition("!")
    return user, token_name, secret


class ProxmoxConnector:
    """Reads nodes and guests of a Proxmox VE cluster and reboots LXC containers."""

    def __init__(
        self, *, api: Any, host: str, timeout_seconds: float, mutation_api: Any = None
    ) -> None:
        self._api = api
        #: Used for changes: the same token, a read timeout longer than any tool's bound.
        self._mutation_api = api if mutation_api is None else mutation_api
        self.host = host
        self._timeout = timeout_seconds

    @classmethod
    def from_settings(cls, settings: ProxmoxSettings) -> ProxmoxConnector:
        if settings.host is None or settings.api_token is None:
            raise ValueError("Proxmox settings need PROXMOX_HOST and PROXMOX_API_TOKEN")
        user, token_name, secret = _split_token(settings.api_token.get_secret_value())
        verify = settings.tls_verify()

        def client(timeout: float | tuple[float, float]) -> Any:
            return ProxmoxAPI(
                settings.host,
                backend="https",
                user=user,
                token_name=token_name,
                token_value=secret,
                verify_ssl=verify,
                timeout=timeout,
            )

        # requests takes (connect, read): a change connects as fast as a read, but its answer
        # is awaited until the tool's own bound ends the call (see connectors.errors).
        mutation_read = max(settings.timeout_seconds, MUTATION_TIMEOUT_SECONDS)
        return cls(
            api=client(settings.timeout_seconds),
            mutation_api=client((settings.timeout_seconds, mutation_read)),
            host=settings.host,
            timeout_seconds=settings.timeout_seconds,
        )

    def __repr__(self) -> str:
        return f"ProxmoxConnector(host={self.host!r})"

    async def aclose(self) -> None:
        """Release the pooled HTTPS connections."""
        # proxmoxer keeps its requests session in the resource's store and offers no close().
        for api in {id(self._api): self._api, id(self._mutation_api): self._mutation_api}.values():
            store = getattr(api, "_store", None)
            session = store.get("session") if isinstance(store, dict) else None
            if session is not None:
                await asyncio.to_thread(session.close)

    # -- reads -------------------------------------------------------------------------------

    async def check(self) -> None:
        """Raise a connector error unless the API answers with this token."""
        await self._call("read the API version", lambda api: api.version.get())

    async def list_nodes(self) -> list[ProxmoxNode]:
        rows = await self._call("list nodes", lambda api: api.nodes.get())
        nodes = [_parse(_NodeWire, row, what="node") for row in rows or []]
        return sorted(
            (
                ProxmoxNode(
                    name=n.node,
                    status=n.status,
                    cpu=n.cpu,
                    max_cpu=n.maxcpu,
                    memory_bytes=n.mem,
                    max_memory_bytes=n.maxmem,
                    uptime_seconds=n.uptime,
                )
                for n in nodes
            ),
            key=lambda node: node.name,
        )

    async def list_guests(self, kind: GuestKind | None = None) -> list[ProxmoxGuest]:
        """Guests on every node (one cluster-wide request), sorted by vmid."""
        rows = await self._call("list guests", lambda api: api.cluster.resources.get(type="vm"))
        guests = []
        for row in rows or []:
            wire = _parse(_ResourceWire, row, what="cluster resource")
            if wire.type not in ("qemu", "lxc") or (kind is not None and wire.type != kind):
                continue
            guests.append(
                ProxmoxGuest(
                    kind="qemu" if wire.type == "qemu" else "lxc",
                    vmid=wire.vmid,
                    name=wire.name,
                    node=wire.node,
                    status=wire.status,
                    cpu=wire.cpu,
                    max_cpu=wire.maxcpu,
                    memory_bytes=wire.mem,
                    max_memory_bytes=wire.maxmem,
                    uptime_seconds=wire.uptime,
                    template=bool(wire.template),
                    tags=tuple(t for t in wire.tags.replace(",", ";").split(";") if t),
                )
            )
        return sorted(guests, key=lambda guest: guest.vmid)

    async def find_lxc(self, *, vmid: int, node: str | None) -> ProxmoxGuest:
        """The LXC ``vmid``, with its live status; on ``node`` if given, else wherever it is."""
        if node is None:
            for guest in await self.list_guests("lxc"):
                if guest.vmid == vmid:
                    return guest
            raise ConnectorNotFound(f"Proxmox VE at {self.host} has no LXC container {vmid}")
        self._check_target(node=node, vmid=vmid)
        row = await self._call(
            f"read LXC {vmid} on node {node}",
            lambda api: api.nodes(node).lxc(vmid).status.current.get(),
        )
        wire = _parse(_LxcStatusWire, row, what="LXC status")
        return ProxmoxGuest(
            kind="lxc",
            vmid=vmid,
            name=wire.name,
            node=node,
            status=wire.status,
            cpu=wire.cpu,
            max_cpu=wire.cpus,
            memory_bytes=wire.mem,
            max_memory_bytes=wire.maxmem,
            uptime_seconds=wire.uptime,
            template=False,
            tags=(),
        )

    # -- actions -----------------------------------------------------------------------------

    async def reboot_lxc(self, *, node: str, vmid: int) -> str:
        """Reboot one LXC container; return the Proxmox task id (UPID) of the reboot."""
        self._check_target(node=node, vmid=vmid)
        upid = await self._mutate(
            f"reboot LXC {vmid} on node {node}",
            lambda api: api.nodes(node).lxc(vmid).status.reboot.post(),
            check=f"check the task log of node {node} and the uptime of LXC {vmid} "
            "(list_proxmox_lxcs)",
        )
        if not isinstance(upid, str) or not upid:
            raise ConnectorOutcomeUnknown(
                f"Proxmox VE at {self.host} accepted the reboot of LXC {vmid} but returned no "
                f"task id; check the task log of node {node} before trying again"
            )
        return upid

    def _check_target(self, *, node: str, vmid: int) -> None:
        if not isinstance(node, str) or not _NODE_NAME.fullmatch(node):
            raise ConnectorRequestError(
                f"{str(node)[:100]!r} is not a Proxmox VE node name (letters, digits, '-' and '.')"
            )
        if isinstance(vmid, bool) or not isinstance(vmid, int) or vmid not in _VMID_RANGE:
            raise ConnectorRequestError(f"{vmid!r} is not a Proxmox VE guest id (100 to 999999999)")

    # -- the one place proxmoxer and requests errors are translated ---------------------------

    async def _call(self, what: str, call: Callable[[Any], T]) -> T:
        where = f"Proxmox VE at {self.host}"
        try:
            # requests enforces the socket timeout; the outer bound also covers DNS and retries.
            return await asyncio.wait_for(
                asyncio.to_thread(call, self._api), timeout=self._timeout * 2 + 1
            )
        except ResourceException as exc:
            raise _translate_resource_error(exc, where=where, what=what) from None
        except (TimeoutError, requests.Timeout):
            raise ConnectorUnavailable(
                f"{where} did not answer within {self._timeout:g}s ({what}); "
                "check the host or raise PROXMOX_TIMEOUT_SECONDS"
            ) from None
        except requests.RequestException as exc:
            raise _translate_transport_error(exc, where=where, what=what) from None

    async def _mutate(self, what: str, call: Callable[[Any], T], *, check: str) -> T:
        """A change: sent once; a failure after it may have arrived is an unknown outcome.

        No outer bound here: the tool's own bound ends a slow call and reports it unknown.
        """
        where = f"Proxmox VE at {self.host}"
        unknown = f"{where} may have received the request to {what}, but "
        try:
            return await asyncio.to_thread(call, self._mutation_api)
        except ResourceException as exc:
            error = _translate_resource_error(exc, where=where, what=what)
            if isinstance(error, ConnectorUnavailable):
                raise ConnectorOutcomeUnknown(
                    f"{unknown}answered {int(exc.status_code)} from a proxy or gateway; "
                    f"{check} before trying again"
                ) from None
            raise error from None
        except requests.RequestException as exc:
            if _not_sent(exc):
                raise _translate_transport_error(exc, where=where, what=what) from None
            raise ConnectorOutcomeUnknown(
                f"{unknown}the connection failed before an answer ({_cause(exc)}); "
                f"{check} before trying again"
            ) from None


def _cause(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    return first_line(exc)


def _not_sent(exc: requests.RequestException) -> bool:
    """Whether the failure proves the request never left: no connection, DNS, TLS handshake."""
    if isinstance(exc, (requests.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    if not isinstance(exc, requests.ConnectionError) or isinstance(exc, requests.Timeout):
        return False
    # requests wraps "could not connect" in MaxRetryError(reason=NewConnectionError or
    # NameResolutionError); a reset after sending arrives as ProtocolError instead.
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _translate_transport_error(
    exc: requests.RequestException, *, where: str, what: str
) -> ConnectorUnavailable:
    if isinstance(exc, requests.Timeout):
        return ConnectorUnavailable(
            f"{where} did not answer in time ({what}); "
            "check the host or raise PROXMOX_TIMEOUT_SECONDS"
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return ConnectorUnavailable(
            f"{where}: TLS verification failed ({what}): {first_line(exc)}; set "
            "PROXMOX_CA_FILE to the cluster's CA or PROXMOX_VERIFY_TLS=false"
        )
    if isinstance(exc, requests.ConnectionError):
        return ConnectorUnavailable(f"{where} is unreachable ({what}): {first_line(exc)}")
    return ConnectorUnavailable(f"{where}: request failed ({what}): {exc}")


def _translate_resource_error(exc: ResourceException, *, where: str, what: str) -> Exception:
    status = int(exc.status_code)
    # proxmoxer puts the status-line reason (where Proxmox writes its error) in ``content``
    # and the parsed ``errors`` member of the body (per-parameter messages) in ``errors``.
    reason = str(exc.content or exc.status_message or "").strip()
    details = exc.errors if isinstance(exc.errors, dict) and "errors" not in exc.errors else None
    if details:
        reason += " (" + ", ".join(f"{k}: {v}" for k, v in sorted(details.items())) + ")"
    if status == 401:
        return ConnectorAuthError(
            f"{where} refused the API token (401 {reason}) while trying to {what}; check "
            "PROXMOX_API_TOKEN (USER@REALM!TOKENID=SECRET) and that the token exists"
        )
    if status == 403:
        return ConnectorForbidden(
            f"{where}: the API token may not {what} (403 {reason}); grant its role the "
            "needed privilege (e.g. VM.Audit to read, VM.PowerMgmt to reboot)"
        )
    if "does not exist" in reason or status == 404:
        return ConnectorNotFound(f"{where}: cannot {what}: {reason}")
    if status in _UNREACHABLE_STATUSES:
        return ConnectorUnavailable(f"{where} could not {what} ({status} {reason})")
    return ConnectorRequestError(f"{where} refused to {what} ({status} {reason})")


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], row: Any, *, what: str) -> M:
    try:
        return model.model_validate(row)
    except ValidationError as exc:
        raise ConnectorUnavailable(f"Proxmox VE sent an unexpected {what}: {exc}") from None
