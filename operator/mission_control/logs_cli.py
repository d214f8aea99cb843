"""``mission-control logs TASKRUN [-n NS] [-f]`` (also ``kubectl mc logs``): a run's journal for a
terminal, read from the sidecar (``MC_API_URL``, ``API_AUTH_TOKEN``).

Model turns, tool calls with their decision and risk, results shortened, approvals, the final
answer, then the run's tokens and cost. With ``-f`` it follows the event stream until the run
ends, resuming with ``Last-Event-ID`` when the connection drops. Colours only on a terminal.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import click
import httpx
from httpx_sse import aconnect_sse

from mission_control.settings import load_settings

__all__ = ["logs", "render_event"]

#: Characters of a tool's output or a model's text shown before "…".
RESULT_CHARS = 300
TEXT_CHARS = 2000
#: Times a dropped stream is resumed before giving up.
RECONNECTS = 5
_FINISHED = "run.finished"


class LogsError(Exception):
    """The run cannot be shown; the message says why."""


@dataclass(frozen=True)
class _Style:
    color: bool

    def __call__(self, text: str, **style: Any) -> str:
        return click.style(text, **style) if self.color else text


def _short(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _args(arguments: Any) -> str:
    return _short(arguments if arguments else {}, 200)


def render_event(event: dict[str, Any], *, color: bool = False) -> list[str]:
    """The lines one journal event (``{seq, type, payload, ...}``) shows as."""
    s = _Style(color)
    kind = str(event.get("type", ""))
    p: dict[str, Any] = event.get("payload") or {}
    seq = s(f"{event.get('seq', '?'):>4}", dim=True)
    verdict_colors = {"Allow": "green", "Deny": "red", "RequireApproval": "yellow"}
    if kind == "run.started":
        return [f"{seq} {s('run started', bold=True)}"]
    if kind == "llm.request":
        return [f"{seq} step {p.get('step')}: asking {p.get('provider')} {p.get('model')}"]
    if kind == "llm.response":
        lines = [
            f"{seq} step {p.get('step')}: model answered ({p.get('finishReason')}, "
            f"{p.get('promptTokens', 0)}+{p.get('completionTokens', 0)} tokens, "
            f"${p.get('costUSD', '0')})"
        ]
        for message in p.get("messages") or []:
            if message.get("content"):
                lines.append("     " + s(_short(message["content"], TEXT_CHARS), fg="cyan"))
            for call in message.get("tool_calls") or []:
                lines.append(
                    f"     calls {s(call.get('name', '?'), bold=True)}"
                    f"({_args(call.get('arguments'))})"
                )
        return lines
    if kind == "llm.error":
        return [f"{seq} {s('model failed', fg='red')}: {p.get('error')}"]
    if kind == "tool.decision":
        verdict = str(p.get("verdict", "?"))
        return [
            f"{seq} {s(p.get('tool', '?'), bold=True)}({_args(p.get('arguments'))}) "
            f"[{p.get('risk', '?')}] → {s(verdict, fg=verdict_colors.get(verdict))}"
            + (f" ({p['reason']})" if p.get("reason") else "")
        ]
    if kind == "tool.started":
        return [f"{seq} running {p.get('tool')} as {p.get('identity') or 'the operator'}"]
    if kind == "tool.result":
        status = str(p.get("status", "?"))
        output = p.get("output")
        if output is None:
            contents = [m.get("content") for m in p.get("messages") or [] if m.get("content")]
            output = contents[0] if contents else ""
        mark = s(status, fg="green" if status == "completed" else "red")
        return [f"{seq} {p.get('tool')} {mark}: {_short(output, RESULT_CHARS)}"]
    if kind == "approval.requested":
        return [
            f"{seq} {s('waiting for approval', fg='yellow', bold=True)}: {p.get('tool')}"
            f"({_args(p.get('arguments'))}) [{p.get('risk')}]"
        ]
    if kind == "approval.decided":
        who = ", ".join(p.get("approvedBy") or []) or p.get("rejectedBy") or "nobody"
        text = f"{seq} approval {s(str(p.get('state')), bold=True)} by {who}"
        return [text + (f": {p['message']}" if p.get("message") else "")]
    if kind == _FINISHED:
        reason = str(p.get("reason", "?"))
        good = reason == "Succeeded"
        lines = [
            f"{seq} {s('finished', bold=True)}: {s(reason, fg='green' if good else 'red')}"
            + (f" — {p['message']}" if p.get("message") else "")
        ]
        if p.get("summary"):
            lines.append("     " + s(_short(p["summary"], TEXT_CHARS), fg="cyan"))
        return lines
    return [f"{seq} {kind} {_short({k: v for k, v in p.items() if k != 'messages'}, 200)}"]


def _totals(run: dict[str, Any], *, color: bool) -> str:
    s = _Style(color)
    return s(
        f"{run.get('namespace')}/{run.get('name')}: {run.get('reason')}, "
        f"{run.get('steps', 0)} steps, {run.get('tool_calls', 0)} tool calls, "
        f"{run.get('prompt_tokens', 0)}+{run.get('completion_tokens', 0)} tokens, "
        f"${run.get('cost_usd', 0)}",
        dim=True,
    )


class _Api:
    def __init__(self, client: httpx.AsyncClient, *, namespace: str, name: str) -> None:
        self._client = client
        self.base = f"/api/v1/task-runs/{namespace}/{name}"
        self.where = f"{namespace}/{name}"

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = await self._client.get(self.base + path, params=params)
        self.check(response)
        body: dict[str, Any] = response.json()
        return body

    def check(self, response: httpx.Response) -> None:
        if response.status_code == 200:
            return
        try:
            message = str(response.json().get("message"))
        except ValueError:
            message = response.text[:200]
        if response.status_code == 401:
            message += " (set API_AUTH_TOKEN to the sidecar's token)"
        raise LogsError(f"taskrun {self.where}: {message}")

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        after = 0
        while True:
            page = await self.get("/events", after=after, limit=1000)
            for event in page["items"]:
                yield event
            if page["next_after"] is None:
                return
            after = page["next_after"]

    async def follow(self) -> AsyncIterator[dict[str, Any]]:
        last, failures = 0, 0
        while True:
            headers = {"Last-Event-ID": str(last)} if last else {}
            try:
                async with aconnect_sse(
                    self._client, "GET", self.base + "/events/stream", headers=headers
                ) as source:
                    self.check(source.response)
                    async for message in source.aiter_sse():
                        if not message.data:
                            continue  # the retry hint
                        event: dict[str, Any] = json.loads(message.data)
                        last, failures = int(message.id or last), 0
                        yield event
                        if event.get("type") == _FINISHED:
                            return
            except (httpx.TransportError, httpx.RemoteProtocolError) as exc:
                failures += 1
                if failures > RECONNECTS:
                    raise LogsError(f"lost the stream of taskrun {self.where}: {exc}") from exc
                await asyncio.sleep(min(2.0**failures, 10.0))
                continue
            # The server ended the stream before run.finished (it dropped this client).
            failures += 1
            if failures > RECONNECTS:
                raise LogsError(f"the stream of taskrun {self.where} keeps ending early")


async def show_run(
    *,
    api_url: str,
    token: str | None,
    namespace: str,
    name: str,
    follow: bool,
    color: bool,
    echo: Callable[[str], None],
) -> None:
    """Print the run's journal (and follow it), then its totals."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timeout = httpx.Timeout(30.0, read=None if follow else 30.0)
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=timeout) as client:
        api = _Api(client, namespace=namespace, name=name)
        await api.get("")  # 404 or 401 before anything is printed
        events = api.follow() if follow else api.events()
        async for event in events:
            for line in render_event(event, color=color):
                echo(line)
        echo(_totals(await api.get(""), color=color))


@click.command()
@click.argument("taskrun")
@click.option("-n", "--namespace", metavar="NS", default="default", show_default=True)
@click.option("-f", "--follow", is_flag=True, help="Follow the run live until it ends.")
def logs(taskrun: str, namespace: str, follow: bool) -> None:
    """Show a TaskRun's journal: model turns, tool calls, approvals, the answer, tokens and cost.

    Reads the sidecar at MC_API_URL with API_AUTH_TOKEN.
    """
    sidecar = load_settings().sidecar
    token = None if sidecar.api_auth_token is None else sidecar.api_auth_token.get_secret_value()
    try:
        asyncio.run(
            show_run(
                api_url=sidecar.api_url,
                token=token,
                namespace=namespace,
                name=taskrun,
                follow=follow,
                color=sys.stdout.isatty(),
                echo=click.echo,
            )
        )
    except LogsError as exc:
        click.echo(f"logs failed: {exc}", err=True)
        sys.exit(1)
    except httpx.TransportError as exc:
        click.echo(f"logs failed: cannot reach the sidecar at {sidecar.api_url}: {exc}", err=True)
        sys.exit(1)
