"""Start-up and answer times of the tests' Ollama server with scripted models.

Run with ``python -m bench.ollama [N]``: starts and stops the server N times (default 5), and
on one server creates N scripted models and has the adapter run a three-turn tool conversation
on each (streamed). Prints the time to ``/api/version``, to create a model, the first request
(which loads the model's runner) and the later requests.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mission_control.llm import Message, ToolDefinition, ToolResultMessage, UserMessage
from mission_control.llm.providers.ollama import OllamaProvider
from tests.support.ollama import LocalOllama, build_ollama
from tests.support.scripted_model import call, say

PODS = ToolDefinition(
    name="list_k8s_pods",
    description="List pods.",
    parameters={"type": "object", "properties": {"namespace": {"type": "string"}}},
)
TURNS = [
    call("list_k8s_pods", namespace="ns1"),
    call("list_k8s_pods", namespace="ns2"),
    say("Pod web-0 crashes: OOMKilled."),
]


async def _conversation(server: LocalOllama, model: str) -> list[float]:
    """Seconds per request of a run loop through the whole script."""
    provider = OllamaProvider(base_url=server.url, model=model, timeout=60)
    conversation: list[Message] = [UserMessage(content="Why does web-0 restart?")]
    times = []
    try:
        for _ in TURNS:
            began = time.monotonic()
            response = await provider.complete(messages=conversation, tools=[PODS])
            times.append(time.monotonic() - began)
            conversation.append(response.to_message())
            conversation += [
                ToolResultMessage(tool_call_id=c.id, name=c.name, content="[]")
                for c in response.tool_calls
            ]
    finally:
        await provider.aclose()
    return times


def _line(label: str, values: list[float]) -> str:
    return (
        f"{label:34s} median {statistics.median(values) * 1000:7.1f} ms  "
        f"min {min(values) * 1000:7.1f}  max {max(values) * 1000:7.1f}  (n={len(values)})"
    )


def main(argv: list[str]) -> int:
    rounds = int(argv[0]) if argv else 5
    began = time.monotonic()
    bin_dir = build_ollama()
    print(f"ollama ready in {time.monotonic() - began:.2f}s (cached build check)")
    starts: list[float] = []
    creates: list[float] = []
    firsts: list[float] = []
    laters: list[float] = []
    with tempfile.TemporaryDirectory() as workdir:
        for index in range(rounds):
            server = LocalOllama(workdir=Path(workdir) / str(index), bin_dir=bin_dir)
            began = time.monotonic()
            server.start()
            starts.append(time.monotonic() - began)
            server.stop()
        with LocalOllama(workdir=Path(workdir) / "models", bin_dir=bin_dir) as server:
            for _ in range(rounds):
                began = time.monotonic()
                # A script of its own: identical models share one blob and one loaded runner.
                model = server.create_scripted([*TURNS[:-1], say(f"Round {len(creates)}.")])
                creates.append(time.monotonic() - began)
                first, *rest = asyncio.run(_conversation(server, model))
                firsts.append(first)
                laters += rest
    print(_line("serve until /api/version answers", starts))
    print(_line("write + create a scripted model", creates))
    print(_line("first chat (loads the runner)", firsts))
    print(_line("later chats (adapter, streamed)", laters))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
