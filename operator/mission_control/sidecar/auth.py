"""Who is calling, and which namespaces they may read.

Two modes (``MC_SIDECAR_AUTH``):

- ``token``: the bearer token must equal ``API_AUTH_TOKEN`` (compared in constant time); such
  a caller sees every namespace.
- ``kubernetes``: ``API_AUTH_TOKEN`` still sees everything; any other bearer token is given to
  the API server's TokenReview, and the user it names sees a namespace only if a
  SubjectAccessReview says it may ``get taskruns`` there. Answers are kept for
  ``MC_SIDECAR_AUTH_CACHE_SECONDS`` (10 s by default), so a stream's events and a page's rows
  do not each ask the API server; concurrent identical questions share one request.

The token is only ever held as given and as a SHA-256 key; it never reaches a log line, an
error message or a ``repr``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from mission_control.connectors.kubernetes.custom import GROUP
from mission_control.connectors.kubernetes.reviews import AccessReviews, ReviewedUser

__all__ = ["AuthFailed", "Authenticator", "Caller"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: Most answers kept per cache; the oldest go first.
CACHE_ENTRIES = 4096


class AuthFailed(Exception):
    """No valid credential (401)."""


class _TtlCache(Generic[K, V]):
    """Answers kept ``ttl`` seconds, bounded; a question in flight is shared, a failure dropped."""

    def __init__(self, *, ttl: float) -> None:
        self._ttl = ttl
        self._entries: OrderedDict[K, tuple[float, asyncio.Future[V]]] = OrderedDict()

    async def get(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        now = time.monotonic()
        found = self._entries.get(key)
        if found is not None and found[0] > now:
            self._entries.move_to_end(key)
            return await asyncio.shield(found[1])
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._entries[key] = (now + self._ttl, future)
        while len(self._entries) > CACHE_ENTRIES:
            self._entries.popitem(last=False)
        try:
            value = await compute()
        except BaseException as exc:
            if self._entries.get(key, (0.0, None))[1] is future:
                del self._entries[key]
            future.set_exception(exc)
            future.exception()  # retrieved here: waiters get it, nobody else must
            raise
        future.set_result(value)
        return value


@dataclass(frozen=True, kw_only=True)
class Caller:
    """An authenticated caller; ``user`` None means every namespace (the static token)."""

    name: str
    user: ReviewedUser | None = None
    _check: Callable[[ReviewedUser, str], Awaitable[bool]] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def sees_everything(self) -> bool:
        return self.user is None

    async def may_read(self, namespace: str) -> bool:
        """Whether the caller may read runs (and their events and usage) of ``namespace``."""
        if self.user is None or self._check is None:
            return True
        return await self._check(self.user, namespace)

    async def visible(self, namespaces: Collection[str]) -> set[str] | None:
        """Of ``namespaces``, those the caller may read; None when it may read all."""
        if self.user is None:
            return None
        allowed = await asyncio.gather(*(self.may_read(ns) for ns in namespaces))
        return {ns for ns, ok in zip(namespaces, allowed, strict=True) if ok}


class Authenticator:
    """Turns an ``Authorization`` header into a :class:`Caller`, or raises :class:`AuthFailed`."""

    def __init__(
        self,
        *,
        token: str | None,
        reviews: AccessReviews | None = None,
        cache_seconds: float = 10.0,
    ) -> None:
        if token is None and reviews is None:
            raise ValueError("an authenticator needs a token, Kubernetes reviews, or both")
        self._token = None if token is None else hashlib.sha256(token.encode()).digest()
        self._reviews = reviews
        self._users: _TtlCache[bytes, ReviewedUser | None] = _TtlCache(ttl=cache_seconds)
        self._access: _TtlCache[tuple[str, tuple[str, ...], str], bool] = _TtlCache(
            ttl=cache_seconds
        )

    @property
    def mode(self) -> str:
        return "kubernetes" if self._reviews is not None else "token"

    async def authenticate(self, authorization: str | None) -> Caller:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthFailed("missing bearer token: send Authorization: Bearer <token>")
        digest = hashlib.sha256(token.encode()).digest()
        # Digests of equal length, compared in constant time.
        if self._token is not None and hmac.compare_digest(digest, self._token):
            return Caller(name="api-token")
        if self._reviews is None:
            raise AuthFailed("invalid bearer token")
        reviews = self._reviews
        user = await self._users.get(digest, lambda: reviews.review_token(token))
        if user is None:
            raise AuthFailed("invalid bearer token: the Kubernetes API server does not accept it")
        return Caller(name=user.username, user=user, _check=self._may_get_taskruns)

    async def _may_get_taskruns(self, user: ReviewedUser, namespace: str) -> bool:
        reviews = self._reviews
        if reviews is None:
            return True
        key = (user.username, user.groups, namespace)
        return await self._access.get(
            key,
            lambda: reviews.may(
                user, verb="get", group=GROUP, resource="taskruns", namespace=namespace
            ),
        )
