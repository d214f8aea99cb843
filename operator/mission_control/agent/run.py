"""The entry points: :func:`drive_run` one TaskRun to its end, or :func:`report_invalid` it.

A run: resolve the provider and the prompt (bad params or an unconfigured provider end it
before any LLM request), record its snapshot, then steps until the model answers without
tool calls. Before each step: cancellation, the run's deadline and the budgets. Status is
patched once at the start, once per step and once at the end; Events only on transitions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

from mission_control.agent.calls import handle_calls
from mission_control.agent.chain import build_chain, describe_chain
from mission_control.agent.context import RunClock, RunContext, RunEnded
from mission_control.agent.ports import RunControl, RunReporter
from mission_control.agent.record import RunRecorder
from mission_control.agent.request import AgentServices, RunOutcome, RunRequest
from mission_control.agent.resume import Resumed, resume
from mission_control.agent.snapshot import resolved_spec, resolved_status, run_snapshot
from mission_control.agent.status import RunStatus
from mission_control.agent.step import ask_model
from mission_control.llm.messages import Message, SystemMessage, UserMessage
from mission_control.runs.limits import EffectiveLimits, LimitExceeded, Spent, check, effective
from mission_control.runs.params import InvalidParams, substitute
from mission_control.runs.policy import RunScope
from mission_control.runs.prompt import system_prompt
from mission_control.runs.resolve import impersonated_user, model_choice
from mission_control.runs.status import RunReason, StepCounts

__all__ = ["drive_run", "report_invalid"]

_NO_COUNTS = StepCounts(
    steps=0, tool_calls=0, prompt_tokens=0, completion_tokens=0, cost_usd=Decimal(0)
)
_EMPTY_ANSWER = "Your answer was empty. Call one of the tools, or give your final answer as text."


async def drive_run(
    *,
    request: RunRequest,
    services: AgentServices,
    reporter: RunReporter,
    control: RunControl,
) -> RunOutcome:
    """Run the TaskRun from its first LLM request to its end; return how it ended.

    Status and Events are written through ``reporter`` as the run goes, the final ones
    included. Cancelling the calling task stops the run without a final status (it can
    resume from its journal).
    """
    status = RunStatus(reporter=reporter, generation=request.generation, clock=services.clock)
    recorder = RunRecorder(
        store=services.store,
        run_uid=request.uid,
        namespace=request.namespace,
        name=request.name,
        status=status,
        metrics=services.metrics,
    )
    provider_name, model_name = model_choice(run=request.spec, task=request.task)
    with (
        services.metrics.run(namespace=request.namespace) as ended,
        services.tracing.run(
            agent=request.task_name or "inline",
            run_uid=request.uid,
            namespace=request.namespace,
            name=request.name,
        ) as span,
    ):
        outcome = await _drive(
            request=request, services=services, control=control, status=status, recorder=recorder
        )
        ended(outcome.reason)
        services.tracing.run_ended(
            span,
            reason=outcome.reason,
            provider=provider_name or "",
            model=model_name or "",
            input_tokens=outcome.counts.prompt_tokens,
            output_tokens=outcome.counts.completion_tokens,
        )
    return outcome


async def _drive(
    *,
    request: RunRequest,
    services: AgentServices,
    control: RunControl,
    status: RunStatus,
    recorder: RunRecorder,
) -> RunOutcome:
    task_label = request.task_name or f"{request.namespace}/{request.name} (inline Task)"
    provider_name, model_name = model_choice(run=request.spec, task=request.task)
    known = await recorder.durably(lambda: services.store.runs.get(request.uid))
    if known is None:
        first = run_snapshot(
            request, provider=provider_name or "", model=model_name or "", reason="Running"
        )
        await recorder.durably(lambda: services.store.runs.upsert_run(first))
    else:  # resumed: the row keeps what the run did so far
        status.started = known.start_time
    summary: str | None = None
    ctx: RunContext | None = None
    try:
        ctx = _context(
            request=request,
            services=services,
            control=control,
            recorder=recorder,
            status=status,
            task_label=task_label,
        )
        summary = await _steps(ctx)
        reason: RunReason = "Succeeded"
        counters = status.counters
        message = (
            f"the agent answered after {counters.steps} steps and {counters.tool_calls} tool "
            "calls; see status.result.summary"
        )
    except RunEnded as ended:
        reason, message = ended.reason, ended.message
        summary = ended.summary
        recorded = ended.recorded
    else:
        recorded = False
    await status.report(reason, message, summary=summary)
    resolved = (ctx.client.name, ctx.model) if ctx else (provider_name or "", model_name or "")
    if not recorded:
        await _finish(
            request=request,
            services=services,
            recorder=recorder,
            status=status,
            resolved=resolved,
            summary=summary,
        )
    return RunOutcome(
        reason=reason, message=message, summary=summary, counts=status.counters.snapshot()
    )


def _context(
    *,
    request: RunRequest,
    services: AgentServices,
    control: RunControl,
    recorder: RunRecorder,
    status: RunStatus,
    task_label: str,
) -> RunContext:
    chain = build_chain(request, providers=services.providers, services=services)
    primary = chain.primary
    identity = impersonated_user(
        namespace=request.namespace, service_account_name=request.service_account
    )
    tools = dataclasses.replace(services.tools, impersonate=identity)
    available = {
        tool.name
        for tool in services.registry.available(tools.connectors, inventory=tools.inventory)
    }
    offered = {
        name: services.registry.get(name) for name in request.task.tools if name in available
    }
    return RunContext(
        request=request,
        services=services,
        control=control,
        recorder=recorder,
        status=status,
        client=primary.client,
        model=primary.model,
        chain=chain,
        tools=tools,
        offered=offered,
        scope=RunScope(
            namespace=request.namespace,
            task=task_label,
            task_tools=frozenset(request.task.tools),
            namespace_labels=request.namespace_labels,
            dry_run=bool(request.spec.dry_run),
        ),
        clock=RunClock(
            timeout_seconds=request.task.limits.timeout_seconds if request.task.limits else None
        ),
        impersonate=identity,
        task_label=task_label,
    )


def _first_messages(ctx: RunContext) -> list[Message]:
    request = ctx.request
    try:
        prompt = substitute(
            request.task.prompt,
            declared=request.task.params,
            given={param.name: param.value for param in request.spec.params},
        )
    except InvalidParams as exc:
        raise RunEnded("InvalidParams", str(exc)) from exc
    targets = request.policy.decision.target_namespaces or (request.namespace,)
    system = system_prompt(
        namespace=request.namespace,
        target_namespaces=targets,
        tools=list(ctx.offered),
        task_system_prompt=request.task.system_prompt,
    )
    return [SystemMessage(content=system), UserMessage(content=prompt)]


async def _steps(ctx: RunContext) -> str:
    request = ctx.request
    limits = effective(request.task.limits, request.policy.budgets)
    await describe_chain(ctx.chain, request=ctx.request, services=ctx.services)
    resumed = await resume(ctx)
    if resumed is None:
        messages = await _start(ctx)
    else:
        messages = await _resume(ctx, resumed)
    while True:
        ctx.check_cancelled()
        ctx.check_deadline()
        await _check_budgets(ctx, limits)
        step = ctx.status.counters.steps + 1
        response = await ask_model(ctx, step=step, messages=messages)
        messages.append(response.to_message())
        if response.tool_calls:
            messages.extend(await handle_calls(ctx, step=step, calls=response.tool_calls))
            calls = len(response.tool_calls)
            await ctx.status.report("Running", f"step {step}: {calls} tool call(s) handled")
            continue
        if response.text.strip():
            return response.text
        nudge = UserMessage(content=_EMPTY_ANSWER)
        ctx.status.counters.invalid_calls += 1
        await ctx.recorder.journal(
            "run.nudge", event_id=f"run.nudge:{step}", payload={"step": step}, messages=[nudge]
        )
        messages.append(nudge)
        await ctx.status.report(
            "Running", f"step {step}: the model's answer was empty; asked again"
        )


async def _start(ctx: RunContext) -> list[Message]:
    messages = _first_messages(ctx)
    await ctx.recorder.journal(
        "run.started",
        event_id="run.started",
        payload={"snapshot": resolved_spec(ctx.request)},
        messages=messages,
        held=True,  # committed with the run's row below, before the status says Running
    )
    await ctx.recorder.audit(
        "run.started",
        key="run.started",
        details={"identity": ctx.impersonate, "tools": list(ctx.offered)},
        held=True,
    )
    ctx.clock.start()
    started = ctx.status.started = ctx.services.clock()
    row = run_snapshot(
        ctx.request, provider=ctx.client.name, model=ctx.model, reason="Running", start_time=started
    )
    await ctx.recorder.durably(lambda: ctx.services.store.runs.upsert_run(row))
    await ctx.status.report(
        "Running",
        f"started {ctx.task_label} with {ctx.client.name}/{ctx.model} as {ctx.impersonate}",
        extra={
            "startTime": started.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "resolved": resolved_status(ctx),
            **_trace(ctx),
        },
    )
    return messages


async def _resume(ctx: RunContext, resumed: Resumed) -> list[Message]:
    ctx.attempt = f".r{resumed.attempt}"
    messages = resumed.messages
    step = resumed.step
    await ctx.recorder.journal(
        "run.resumed",
        event_id=f"run.resumed:{resumed.attempt}",
        payload={"step": step, "unhandledCalls": [call.id for call in resumed.unhandled]},
    )
    await ctx.recorder.audit(
        "run.resumed",
        key=f"run.resumed:{resumed.attempt}",
        details={"step": step, "attempt": resumed.attempt},
    )
    ctx.clock.start()
    # Already started: going on is not a new story, so no Started Event.
    ctx.status.reason = "Running"
    await ctx.status.report(
        "Running",
        f"resumed from the journal after step {step}",
        extra={"resolved": resolved_status(ctx), **_trace(ctx)},
    )
    if resumed.unhandled:
        messages.extend(
            await handle_calls(
                ctx,
                step=step,
                calls=resumed.all_calls,
                only={call.id for call in resumed.unhandled},
            )
        )
    return messages


def _trace(ctx: RunContext) -> dict[str, str]:
    """``traceID`` for status when the run is traced (a resumed run starts a new trace)."""
    trace_id = ctx.services.tracing.trace_id()
    return {} if trace_id is None else {"traceID": trace_id}


async def _check_budgets(ctx: RunContext, limits: EffectiveLimits) -> None:
    counters = ctx.status.counters
    day_tokens, day_cost = 0, Decimal(0)
    if limits.max_tokens_per_day is not None or limits.max_cost_usd_per_day is not None:
        today = ctx.services.clock().astimezone(dt.UTC).date()
        day = await ctx.recorder.durably(
            lambda: ctx.services.store.usage.day_total(namespace=ctx.request.namespace, day=today)
        )
        day_tokens, day_cost = day.total_tokens, day.cost_usd
        ctx.services.metrics.daily_budgets(
            namespace=ctx.request.namespace,
            tokens=(day_tokens, limits.max_tokens_per_day),
            cost=(day_cost, limits.max_cost_usd_per_day),
        )
    spent = Spent(
        steps=counters.steps,
        tokens=counters.tokens,
        cost_usd=counters.cost_usd,
        day_tokens=day_tokens,
        day_cost_usd=day_cost,
    )
    try:
        check(limits, spent)
    except LimitExceeded as exc:
        where = (
            "the ToolPolicy's budgets"
            if exc.limit.endswith(("PerRun", "PerDay"))
            else "the Task's spec.limits"
        )
        raise RunEnded("LimitExceeded", f"{exc}; raise {exc.limit} in {where}") from exc


async def _finish(
    *,
    request: RunRequest,
    services: AgentServices,
    recorder: RunRecorder,
    status: RunStatus,
    resolved: tuple[str, str],
    summary: str | None,
) -> None:
    condition = status.condition
    reason = condition.reason if condition else ""
    counters = status.counters
    payload: dict[str, Any] = {
        "reason": reason,
        "message": condition.message if condition else "",
        "steps": counters.steps,
        "toolCalls": counters.tool_calls,
        "invalidCalls": counters.invalid_calls,
        "summary": summary,
    }
    # One transaction with the run's row below.
    await recorder.journal("run.finished", event_id="run.finished", payload=payload, held=True)
    await recorder.audit(
        "run.finished", key="run.finished", outcome=reason, details=payload, held=True
    )
    snapshot = run_snapshot(
        request, provider=resolved[0], model=resolved[1], reason=reason, start_time=status.started
    )
    final = dataclasses.replace(
        snapshot,
        succeeded=condition.status if condition else "Unknown",
        message=payload["message"],
        completion_time=services.clock(),
        steps=counters.steps,
        tool_calls=counters.tool_calls,
        prompt_tokens=counters.prompt_tokens,
        completion_tokens=counters.completion_tokens,
        cost_usd=counters.cost_usd,
    )
    await recorder.durably(lambda: services.store.runs.upsert_run(final))


async def report_invalid(
    *,
    reporter: RunReporter,
    reason: RunReason,
    message: str,
    generation: int | None,
    now: dt.datetime,
) -> RunOutcome:
    """End a run that cannot start (``InvalidTask``...): one status patch and one Event."""
    status = RunStatus(reporter=reporter, generation=generation, clock=lambda: now)
    await status.report(reason, message)
    return RunOutcome(reason=reason, message=message, summary=None, counts=_NO_COUNTS)
