"""The Task resource: a reusable template of what the agent should do."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from mission_control.resources.common import (
    Condition,
    DnsSubdomain,
    KubernetesObject,
    Metadata,
    ModelRef,
    Resource,
    UsdAmount,
    require_unique,
)
from mission_control.resources.schemas import patterns

__all__ = ["Limits", "Param", "PolicyRef", "Task", "TaskSpec", "TaskStatus"]

ToolName = Annotated[str, Field(min_length=1, max_length=63, pattern=patterns.TOOL_NAME)]
ParamName = Annotated[str, Field(min_length=1, max_length=63, pattern=patterns.PARAM_NAME)]


class Param(Resource):
    """A parameter of the prompt, referenced as ``$(params.NAME)``."""

    name: ParamName
    description: str | None = Field(default=None, max_length=1024)
    default: str | None = Field(default=None, max_length=4096)


class Limits(Resource):
    """Bounds of one run."""

    max_steps: int | None = Field(default=None, ge=1, le=200)
    timeout_seconds: int | None = Field(default=None, ge=10, le=86400)
    max_tokens: int | None = Field(default=None, ge=1, le=10_000_000)
    max_cost_usd: UsdAmount | None = Field(default=None, alias="maxCostUSD")


class PolicyRef(Resource):
    """A ToolPolicy in the same namespace."""

    name: DnsSubdomain


class TaskSpec(Resource):
    """What the agent should do, with which tools and model, within which limits."""

    description: str | None = Field(default=None, max_length=1024)
    prompt: str = Field(min_length=1, max_length=20000)
    system_prompt: str | None = Field(default=None, max_length=20000)
    params: list[Param] = Field(default_factory=list, max_length=50)
    model: ModelRef | None = None
    tools: list[ToolName] = Field(min_length=1, max_length=64)
    policy_ref: PolicyRef | None = None
    service_account_name: DnsSubdomain | None = None
    limits: Limits | None = None

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, prompt: str) -> str:
        if not prompt.strip():
            raise ValueError("must contain instructions for the agent, not only whitespace")
        return prompt

    @field_validator("params")
    @classmethod
    def _unique_params(cls, params: list[Param]) -> list[Param]:
        require_unique([param.name for param in params], what="param names")
        return params

    @field_validator("tools")
    @classmethod
    def _unique_tools(cls, tools: list[str]) -> list[str]:
        require_unique(tools, what="tools")
        return tools


class TaskStatus(Resource):
    """Observed state of a Task."""

    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)


class Task(KubernetesObject):
    """A Task object."""

    api_version: Literal["missioncontrol.dev/v1alpha1"] = "missioncontrol.dev/v1alpha1"
    kind: Literal["Task"] = "Task"
    metadata: Metadata
    spec: TaskSpec
    status: TaskStatus | None = None
