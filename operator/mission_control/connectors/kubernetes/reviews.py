"""Who a bearer token belongs to and what it may read: TokenReview and SubjectAccessReview.

What the sidecar's per-namespace access asks the API server, the way kube-rbac-proxy does: the
token is reviewed with the API server's own authenticators (ServiceAccount tokens, OIDC, ...),
and each namespace is checked with a SubjectAccessReview for the reviewed user and groups.
The token itself is never logged or put in an error message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s

from mission_control.connectors.errors import ConnectorRequestError
from mission_control.connectors.kubernetes.client import KubernetesConnector
from mission_control.connectors.kubernetes.custom import GROUP, VERSION, Plural
from mission_control.connectors.kubernetes.errors import Operation

__all__ = ["AccessReviews", "ReviewedUser"]


@dataclass(frozen=True, kw_only=True)
class ReviewedUser:
    """A user the API server vouched for."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()


class AccessReviews:
    """TokenReview, SubjectAccessReview, and lists of our objects in every namespace."""

    def __init__(self, kubernetes: KubernetesConnector) -> None:
        self._kubernetes = kubernetes

    async def review_token(
        self, token: str, *, audiences: Sequence[str] = ()
    ) -> ReviewedUser | None:
        """The user the token belongs to, or None when the API server does not accept it."""
        spec: dict[str, Any] = {"token": token}
        if audiences:
            spec["audiences"] = list(audiences)
        body: Any = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
        op = Operation(verb="create", resource="tokenreviews", kind="TokenReview")
        data = await self._kubernetes._fetch(
            lambda apis, o: k8s.AuthenticationV1Api(apis.client).create_token_review(body, **o),
            op=op,
            impersonate=None,
        )
        status = self._object(data, op=op).get("status") or {}
        if not status.get("authenticated"):
            return None
        user = status.get("user") or {}
        username = user.get("username")
        if not isinstance(username, str) or not username:
            return None
        groups = user.get("groups") or []
        return ReviewedUser(
            username=username,
            uid=str(user.get("uid") or ""),
            groups=tuple(str(group) for group in groups if isinstance(group, str)),
        )

    async def may(
        self, user: ReviewedUser, *, verb: str, group: str, resource: str, namespace: str
    ) -> bool:
        """Whether ``user`` may ``verb`` ``resource`` of API ``group`` in ``namespace``."""
        body: Any = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": user.username,
                "uid": user.uid,
                "groups": list(user.groups),
                "resourceAttributes": {
                    "namespace": namespace,
                    "verb": verb,
                    "group": group,
                    "resource": resource,
                },
            },
        }
        op = Operation(verb="create", resource="subjectaccessreviews", kind="SubjectAccessReview")
        data = await self._kubernetes._fetch(
            lambda apis, o: k8s.AuthorizationV1Api(apis.client).create_subject_access_review(
                body, **o
            ),
            op=op,
            impersonate=None,
        )
        status = self._object(data, op=op).get("status") or {}
        return bool(status.get("allowed")) and not status.get("denied")

    async def list_everywhere(self, plural: Plural) -> list[dict[str, Any]]:
        """Every object of one of our namespaced kinds, in every namespace, as JSON."""
        op = Operation(verb="list", resource=plural, kind=plural)
        pages = await self._kubernetes._list(
            lambda apis, o: k8s.CustomObjectsApi(apis.client).list_cluster_custom_object(
                GROUP, VERSION, plural, **o
            ),
            op=op,
            impersonate=None,
        )
        items: list[dict[str, Any]] = []
        for page in pages:
            found = self._object(page, op=op).get("items")
            if not isinstance(found, list):
                raise self._unexpected(op, "a list without items")
            items.extend(item for item in found if isinstance(item, dict))
        return items

    def _object(self, data: bytes, *, op: Operation) -> dict[str, Any]:
        try:
            parsed = json.loads(data)
        except ValueError as exc:
            raise self._unexpected(op, f"not JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise self._unexpected(op, "not a JSON object")
        return parsed

    def _unexpected(self, op: Operation, why: str) -> ConnectorRequestError:
        error = ConnectorRequestError(
            f"unexpected answer from Kubernetes API server {self._kubernetes.server} to "
            f"{op.verb} {op.target()}: {why}"
        )
        error.source = "kubernetes"
        return error
