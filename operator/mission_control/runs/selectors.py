"""Kubernetes label selectors over namespaces, evaluated from a namespace's labels.

Semantics as in Kubernetes: ``matchLabels`` and every ``matchExpressions`` requirement must hold;
an empty selector selects every namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["NamespaceSelector", "SelectorRequirement"]


@dataclass(frozen=True)
class SelectorRequirement:
    """One ``matchExpressions`` entry: operator In, NotIn, Exists or DoesNotExist."""

    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        present = self.key in labels and labels[self.key] in self.values
        return present if self.operator == "In" else not present


@dataclass(frozen=True)
class NamespaceSelector:
    """A Kubernetes label selector over namespaces; empty selects every namespace."""

    match_labels: Mapping[str, str] = field(default_factory=dict)
    match_expressions: tuple[SelectorRequirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            requirement.matches(labels) for requirement in self.match_expressions
        )
