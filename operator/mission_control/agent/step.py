"""One LLM request of a run: recorded before it is sent, its answer and usage after."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from functools import partial

from mission_control.agent.context import RunContext, RunEnded
from mission_control.llm.errors import ProviderError
from mission_control.llm.messages import LLMResponse, Message, ToolDefinition, dump_messages
from mission_control.store.records import UsageEntry

__all__ = ["ask_model", "tool_definitions"]


def tool_definitions(ctx: RunContext) -> list[ToolDefinition]:
    """The Task's available tools as the model sees them (nothing else is offered)."""
    return [
        ToolDefinition(name=tool.name, description=tool.description, parameters=tool.json_schema())
        for tool in ctx.offered.values()
    ]


async def ask_model(ctx: RunContext, *, step: int, messages: Sequence[Message]) -> LLMResponse:
    """Send the conversation; journal the request first and the answer, usage and cost after."""
    store, uid = ctx.services.store, ctx.request.uid
    provider = ctx.client.name
    definitions = tool_definitions(ctx)
    key = f"step-{step}{ctx.attempt}"
    sent = dump_messages(messages)
    tools = [definition.model_dump(mode="json") for definition in definitions]

    async def record_request() -> int:
        # The request and its event in one transaction, committed before it is sent.
        async with store.db.transaction(action="record an LLM request"):
            recorded = await store.llm.record_request(
                run_uid=uid,
                key=key,
                step=step,
                provider=provider,
                model=ctx.model,
                messages=sent,
                tools=tools,
            )
            await store.journal.append(
                run_uid=uid,
                type="llm.request",
                event_id=f"llm.request:{step}{ctx.attempt}",
                payload={
                    "step": step,
                    "provider": provider,
                    "model": ctx.model,
                    "requestId": recorded,
                },
            )
            return recorded

    request_id = await ctx.recorder.durably(record_request)
    deadline = time.monotonic() + ctx.services.limits.request_timeout_seconds
    if ctx.clock.deadline is not None:
        deadline = min(deadline, ctx.clock.deadline)
    started = time.monotonic()
    tracing = ctx.services.tracing
    try:
        with tracing.chat(
            provider=provider,
            model=ctx.model,
            messages=dump_messages(messages) if tracing.content else None,
        ) as span:
            try:
                response = await _complete_unless_cancelled(
                    ctx, messages=messages, definitions=definitions, deadline=deadline
                )
            except ProviderError as exc:
                tracing.failed(span, error_type=type(exc).__name__, message=str(exc))
                raise
            tracing.chat_answered(
                span,
                model=response.model,
                finish_reason=response.finish_reason.value,
                input_tokens=response.usage.prompt_tokens,
                output_tokens=response.usage.completion_tokens,
                output=response.to_message().model_dump(mode="json") if tracing.content else None,
            )
    except RunEnded as ended:
        abandoned = partial(
            store.llm.record_response,
            request_id=request_id,
            run_uid=uid,
            content={},
            latency_ms=(time.monotonic() - started) * 1000,
            error=f"abandoned: {ended.message}",
        )
        await ctx.recorder.durably(abandoned)
        raise
    except ProviderError as exc:
        failed = partial(
            store.llm.record_response,
            request_id=request_id,
            run_uid=uid,
            content={},
            latency_ms=(time.monotonic() - started) * 1000,
            error=str(exc),
        )
        await ctx.recorder.durably(failed)
        await ctx.recorder.journal(
            "llm.error",
            event_id=f"llm.error:{step}{ctx.attempt}",
            payload={"step": step, "error": str(exc)},
        )
        ctx.check_deadline()
        raise RunEnded("ProviderError", f"{provider} model {ctx.model} failed: {exc}") from exc
    await _record_answer(ctx, step=step, key=key, request_id=request_id, response=response)
    return response


async def _complete_unless_cancelled(
    ctx: RunContext,
    *,
    messages: Sequence[Message],
    definitions: Sequence[ToolDefinition],
    deadline: float,
) -> LLMResponse:
    """The model's answer; a cancellation of the run abandons the request in flight."""
    answer = asyncio.ensure_future(
        ctx.client.complete(
            messages=messages, tools=definitions, model=ctx.model, deadline=deadline
        )
    )
    cancelled = asyncio.ensure_future(ctx.until_cancelled())
    try:
        await asyncio.wait((answer, cancelled), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in (answer, cancelled):
            waiting.cancel()
        await asyncio.gather(answer, cancelled, return_exceptions=True)
    if not answer.cancelled() and answer.done() and answer.exception() is None:
        return answer.result()
    if cancelled.done() and not cancelled.cancelled():
        ctx.check_cancelled()
    return answer.result()  # raises the provider's error


async def _record_answer(
    ctx: RunContext, *, step: int, key: str, request_id: int, response: LLMResponse
) -> None:
    store, uid = ctx.services.store, ctx.request.uid
    usage = response.usage
    cost = ctx.services.prices.cost(usage, provider=response.provider, model=response.model)
    # The response, its usage and its event: one transaction.
    ctx.recorder.hold(
        lambda: store.llm.record_response(
            request_id=request_id,
            run_uid=uid,
            content=response.model_dump(mode="json"),
            latency_ms=response.latency_seconds * 1000,
            finish_reason=response.finish_reason.value,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        )
    )
    ctx.recorder.hold(
        lambda: store.usage.record(
            UsageEntry(
                run_uid=uid,
                provider=response.provider,
                model=response.model,
                namespace=ctx.request.namespace,
                task=ctx.task_label,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cost_usd=cost.usd,
                request_id=request_id,
            ),
            key=key,
        )
    )
    await ctx.recorder.journal(
        "llm.response",
        event_id=f"llm.response:{step}{ctx.attempt}",
        payload={
            "step": step,
            "requestId": request_id,
            "finishReason": response.finish_reason.value,
            "promptTokens": usage.prompt_tokens,
            "completionTokens": usage.completion_tokens,
            "costUSD": format(cost.usd, "f"),
            "priced": cost.priced,
        },
        messages=[response.to_message()],
    )
    ctx.services.metrics.llm_usage(
        namespace=ctx.request.namespace,
        provider=response.provider,
        model=response.model,
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        cost_usd=cost.usd,
    )
    counters = ctx.status.counters
    counters.steps = step
    counters.prompt_tokens += usage.prompt_tokens
    counters.completion_tokens += usage.completion_tokens
    counters.cost_usd += cost.usd
