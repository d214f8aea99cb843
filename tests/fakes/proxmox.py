"""A Proxmox VE API double: HTTPS ``/api2/json`` with API-token auth.

Speaks the wire format proxmoxer expects: every answer wrapped in ``{"data": ...}``; the
``Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET`` header checked on every request
(401 with an empty body otherwise); errors as Proxmox sends them, with the reason in the HTTP
status line (``500 Configuration file 'nodes/pve/lxc/999.conf' does not exist``) and a
``{"data": null}`` body; form-encoded POSTs; a UPID task id for an LXC reboot.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.server import FakeServer, RecordedRequest, Reply

__all__ = ["FakeGuest", "FakeProxmox"]

API = "/api2/json"


@dataclass
class FakeGuest:
    """A VM or container as the fake keeps it."""

    kind: str  # qemu | lxc
    vmid: int
    name: str
    node: str
    status: str = "running"
    cpu: float = 0.02
    maxcpu: int = 2
    mem: int = 512 * 1024 * 1024
    maxmem: int = 2 * 1024 * 1024 * 1024
    uptime: int = 3 * 86400 + 4 * 3600
    tags: str = ""

    def resource(self) -> dict[str, Any]:
        return {
            "id": f"{self.kind}/{self.vmid}",
            "type": self.kind,
            "vmid": self.vmid,
            "name": self.name,
            "node": self.node,
            "status": self.status,
            "cpu": self.cpu,
            "maxcpu": self.maxcpu,
            "mem": self.mem,
            "maxmem": self.maxmem,
            "disk": 0,
            "maxdisk": 8 * 1024**3,
            "uptime": self.uptime,
            "template": 0,
            "tags": self.tags,
        }


@dataclass
class FakeProxmox:
    """State and routes of the fake; ``token`` is the full ``USER@REALM!TOKENID=SECRET``."""

    certfile: Path
    keyfile: Path
    token: str = "mission-control@pve!mc=11111111-2222-3333-4444-555555555555"
    nodes: dict[str, str] = field(default_factory=lambda: {"pve": "online", "pve2": "online"})
    guests: list[FakeGuest] = field(default_factory=list)
    #: vmid -> privilege the token lacks for it (403 Permission check failed).
    forbidden: dict[int, str] = field(default_factory=dict)
    server: FakeServer = field(init=False)
    _task_ids: Any = field(default_factory=lambda: itertools.count(0xA1B2), init=False)

    def __post_init__(self) -> None:
        self.server = FakeServer(certfile=self.certfile, keyfile=self.keyfile)
        routes = [
            ("GET", f"{API}/version", self._version),
            ("GET", f"{API}/nodes", self._nodes),
            ("GET", f"{API}/cluster/resources", self._resources),
            ("GET", rf"{API}/nodes/([^/]+)/lxc/(\d+)/status/current", self._lxc_status),
            ("POST", rf"{API}/nodes/([^/]+)/lxc/(\d+)/status/reboot", self._lxc_reboot),
        ]
        for method, pattern, handler in routes:
            self.server.route(method, pattern, self._authenticated(handler))

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def __enter__(self) -> FakeProxmox:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    # -- wire helpers --------------------------------------------------------------------

    def _authenticated(self, handler: Any) -> Any:
        def check(request: RecordedRequest, match: re.Match[str]) -> Reply:
            if request.headers.get("authorization") != f"PVEAPIToken={self.token}":
                return Reply(401, b"", reason="authentication failure")
            return handler(request, match)

        return check

    @staticmethod
    def _data(value: Any) -> Reply:
        return Reply(200, {"data": value})

    @staticmethod
    def _error(status: int, reason: str) -> Reply:
        return Reply(status, {"data": None}, reason=reason)

    def _find(self, node: str, vmid: int, kind: str) -> FakeGuest | None:
        return next(
            (g for g in self.guests if g.node == node and g.vmid == vmid and g.kind == kind), None
        )

    # -- routes ----------------------------------------------------------------------------

    def _version(self, request: RecordedRequest, match: re.Match[str]) -> Reply:
        return self._data({"version": "8.2.4", "release": "8.2", "repoid": "faa83925c9641325"})

    def _nodes(self, request: RecordedRequest, match: re.Match[str]) -> Reply:
        return self._data(
            [
                {
                    "node": name,
                    "status": status,
                    "type": "node",
                    "id": f"node/{name}",
                    "cpu": 0.125 if status == "online" else 0,
                    "maxcpu": 8,
                    "mem": 6 * 1024**3,
                    "maxmem": 32 * 1024**3,
                    "uptime": 864000 if status == "online" else 0,
                    "level": "",
                    "ssl_fingerprint": "AA:BB",
                }
                for name, status in self.nodes.items()
            ]
        )

    def _resources(self, request: RecordedRequest, match: re.Match[str]) -> Reply:
        wanted = request.query.get("type", [""])[0]
        rows = [g.resource() for g in self.guests]
        if wanted not in ("", "vm"):
            rows = []
        return self._data(rows)

    def _lxc_status(self, request: RecordedRequest, match: re.Match[str]) -> Reply:
        node, vmid = match.group(1), int(match.group(2))
        guest = self._find(node, vmid, "lxc")
        if guest is None:
            return self._error(
                500, f"Configuration file 'nodes/{node}/lxc/{vmid}.conf' does not exist"
            )
        return self._data(
            {
                "vmid": vmid,
                "name": guest.name,
                "status": guest.status,
                "cpu": guest.cpu,
                "cpus": guest.maxcpu,
                "mem": guest.mem,
                "maxmem": guest.maxmem,
                "uptime": guest.uptime,
                "type": "lxc",
                "ha": {"managed": 0},
            }
        )

    def _lxc_reboot(self, request: RecordedRequest, match: re.Match[str]) -> Reply:
        node, vmid = match.group(1), int(match.group(2))
        if vmid in self.forbidden:
            return self._error(
                403, f"Permission check failed (/vms/{vmid}, {self.forbidden[vmid]})"
            )
        guest = self._find(node, vmid, "lxc")
        if guest is None:
            return self._error(
                500, f"Configuration file 'nodes/{node}/lxc/{vmid}.conf' does not exist"
            )
        if guest.status != "running":
            return self._error(500, f"CT {vmid} not running")
        user = self.token.partition("=")[0]
        upid = f"UPID:{node}:{next(self._task_ids):08X}:0017A2C1:66F1B2C3:vzreboot:{vmid}:{user}:"
        guest.uptime = 0
        return self._data(upid)
