"""The bearer tokens of alerting TaskTriggers, read as the agent, never as the operator.

A trigger names its token Secret (``spec.alert.tokenSecretRef``); the Secret is read as the
agent ServiceAccount of the trigger's namespace (``runTemplate.serviceAccountName``, else the
operator's default agent account) through impersonation, the one Secret read the operator has
(:meth:`~mission_control.connectors.kubernetes.client.KubernetesConnector.read_secret_key`).
So a trigger cannot make the operator read a Secret its namespace's agent may not: the
operator holds no ``get secrets`` of its own.
"""

from __future__ import annotations

from mission_control.connectors.errors import ConnectorNotFound
from mission_control.connectors.kubernetes.client import KubernetesConnector
from mission_control.resources.tasktrigger import TaskTriggerSpec
from mission_control.runs.resolve import impersonated_user

__all__ = ["TriggerTokens"]


class TriggerTokens:
    """Reads triggers' tokens as their agent ServiceAccount (see the module doc)."""

    def __init__(self, kubernetes: KubernetesConnector, *, agent_account: str) -> None:
        self._kubernetes = kubernetes
        self._agent_account = agent_account

    def reader(self, spec: TaskTriggerSpec) -> str:
        """The ServiceAccount (of the trigger's namespace) that reads the token Secret."""
        template = spec.run_template
        if template is not None and template.service_account_name:
            return template.service_account_name
        return self._agent_account

    async def read(self, namespace: str, spec: TaskTriggerSpec) -> bytes:
        """The trigger's token, stripped; empty when it has none or the Secret or its key is
        absent. :class:`~mission_control.connectors.errors.ConnectorForbidden` when the
        :meth:`reader` may not get the Secret; other connector errors as they come. The value
        never appears in an error."""
        if spec.alert is None:
            return b""
        ref = spec.alert.token_secret_ref
        user = impersonated_user(namespace=namespace, service_account_name=self.reader(spec))
        try:
            text = await self._kubernetes.read_secret_key(
                namespace, ref.name, ref.key, impersonate=user
            )
        except ConnectorNotFound:
            return b""
        return text.strip().encode()
