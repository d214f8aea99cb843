"""One LLM request of a run: recorded before it is sent, its answer and usage after.

The request goes to the run's fallback chain (:mod:`mission_control.llm.chain`): the model
the chain stands on, then, on an outage, the next one, each attempt recorded with its own
model, the conversation translated for its provider and fitted to its context window
(:mod:`mission_control.llm.window`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

from mission_control.agent.context import RunContext, RunEnded
from mission_control.errors import TemporaryError
from mission_control.llm.chain import ModelLink, Switch, translate_for
from mission_control.llm.errors import ProviderError
from mission_control.llm.messages import LLMResponse, Message, ToolDefinition, dump_messages
from mission_control.llm.window import fit_window
from mission_control.store.records import UsageEntry

__all__ = ["RESERVED_ANSWER_TOKENS", "ask_model", "tool_definitions"]

#: Tokens of a model's context window left free for its answer when the conversation is fitted.
RESERVED_ANSWER_TOKENS = 1024


def tool_definitions(ctx: RunContext) -> list[ToolDefinition]:
    """The Task's available tools as the model sees them (nothing else is offered)."""
    return [
        ToolDefinition(name=tool.name, description=tool.description, parameters=tool.json_schema())
        for tool in ctx.offered.values()
    ]


async def ask_model(ctx: RunContext, *, step: int, messages: Sequence[Message]) -> LLMResponse:
    """Send the conversation to the chain's current model, failing over on outages.

    Each attempt is journaled before it is sent, with the model it goes to; the answer, usage
    and cost after, with the model that answered. A failover is journaled (``llm.fallback``)
    and told in an Event (``ModelFallback``).
    """
    chain = ctx.chain
    was = chain.active
    index = chain.begin_step(messages=messages)
    if was and not index:
        await ctx.recorder.journal(
            "llm.primary_again",
            event_id=f"llm.primary_again:{step}{ctx.attempt}",
            payload={"step": step, "model": chain.primary.label, "after": chain.links[was].label},
        )
    deadline = time.monotonic() + ctx.services.limits.request_timeout_seconds
    if ctx.clock.deadline is not None:
        deadline = min(deadline, ctx.clock.deadline)
    tried = 0
    while True:
        link = chain.links[index]
        suffix = f"{ctx.attempt}.f{tried}" if tried else ctx.attempt
        try:
            response = await _ask_link(
                ctx,
                step=step,
                suffix=suffix,
                link=link,
                messages=messages,
                deadline=chain.deadline_for(index, deadline),
            )
        except ProviderError as exc:
            switch = chain.failover(index=index, error=exc, messages=messages)
            ctx.check_deadline()
            if switch is None:
                raise RunEnded(
                    "ProviderError",
                    f"{link.provider} model {link.model} failed: {exc}{_what_to_do(exc)}",
                ) from exc
            await _record_switch(ctx, step=step, suffix=suffix, switch=switch)
            index, tried = switch.index, tried + 1
            continue
        chain.answered(index)
        return response


async def _record_switch(ctx: RunContext, *, step: int, suffix: str, switch: Switch) -> None:
    await ctx.recorder.journal(
        "llm.fallback",
        event_id=f"llm.fallback:{step}{suffix}",
        payload={
            "step": step,
            "from": switch.source.label,
            "to": switch.target.label,
            "reason": switch.reason,
            "error": switch.error,
            "skipped": list(switch.skipped),
        },
    )
    ctx.services.metrics.llm_fallback(
        source=switch.source.provider, target=switch.target.provider, reason=switch.reason
    )
    await ctx.status.event("ModelFallback", f"step {step}: {switch.describe()}", warning=True)


async def _ask_link(
    ctx: RunContext,
    *,
    step: int,
    suffix: str,
    link: ModelLink,
    messages: Sequence[Message],
    deadline: float | None,
) -> LLMResponse:
    """One attempt on one model of the chain, recorded before and after."""
    store, uid = ctx.services.store, ctx.request.uid
    provider, model = link.provider, link.model
    definitions = tool_definitions(ctx)
    fitted = fit_window(
        translate_for(messages, provider=provider),
        tools=definitions,
        window=link.info.context_window if link.info else None,
        reserve=RESERVED_ANSWER_TOKENS,
    )
    key = f"step-{step}{suffix}"
    sent = fitted.messages
    dumped = dump_messages(sent)
    tools = [definition.model_dump(mode="json") for definition in definitions]
    payload: dict[str, Any] = {"step": step, "provider": provider, "model": model}
    if fitted.shortened:
        payload["shortenedToolOutputs"] = fitted.shortened
        payload["estimatedTokens"] = fitted.estimate
        payload["contextWindow"] = link.info.context_window if link.info else None

    async def record_request() -> int:
        # The request and its event in one transaction, committed before it is sent.
        async with store.db.transaction(action="record an LLM request"):
            recorded = await store.llm.record_request(
                run_uid=uid,
                key=key,
                step=step,
                provider=provider,
                model=model,
                messages=dumped,
                tools=tools,
            )
            await store.journal.append(
                run_uid=uid,
                type="llm.request",
                event_id=f"llm.request:{step}{suffix}",
                payload={**payload, "requestId": recorded},
            )
            return recorded

    request_id = await ctx.recorder.durably(record_request)
    started = time.monotonic()
    tracing = ctx.services.tracing
    try:
        with tracing.chat(
            provider=provider,
            model=model,
            messages=dumped if tracing.content else None,
        ) as span:
            try:
                response = await _complete_unless_cancelled(
                    ctx,
                    link=link,
                    messages=sent,
                    definitions=definitions,
                    deadline=deadline,
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
            event_id=f"llm.error:{step}{suffix}",
            payload={"step": step, "provider": provider, "model": model, "error": str(exc)},
        )
        raise
    await _record_answer(
        ctx, step=step, key=key, suffix=suffix, link=link, request_id=request_id, response=response
    )
    return response


async def _complete_unless_cancelled(
    ctx: RunContext,
    *,
    link: ModelLink,
    messages: Sequence[Message],
    definitions: Sequence[ToolDefinition],
    deadline: float | None,
) -> LLMResponse:
    """The model's answer; a cancellation of the run abandons the request in flight."""
    answer = asyncio.ensure_future(
        link.client.complete(
            messages=messages, tools=definitions, model=link.model, deadline=deadline
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
    ctx: RunContext,
    *,
    step: int,
    key: str,
    suffix: str,
    link: ModelLink,
    request_id: int,
    response: LLMResponse,
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
        event_id=f"llm.response:{step}{suffix}",
        payload={
            "step": step,
            "requestId": request_id,
            "provider": response.provider,
            "model": response.model,
            "chainModel": [link.provider, link.model],
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
    counters.add_usage(
        link=(link.provider, link.model),
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cost=cost.usd,
    )


def _what_to_do(exc: ProviderError) -> str:
    """Advice for a failure retrying could not fix; a permanent error names its own fix."""
    if not isinstance(exc, TemporaryError):
        return ""
    return (
        "; the provider kept failing while the run retried: create a new TaskRun to try again "
        "later, or give the Task's spec.model fallbacks so another model can take over"
    )
