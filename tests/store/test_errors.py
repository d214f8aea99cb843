"""What the store says when the database URL is wrong or the server is away: the cause, the
remedy, and never the password."""

from __future__ import annotations

import pytest

from mission_control.errors import ConfigError
from mission_control.store import JournalUnavailable, Store, apply_migrations

SECRET = "s3cret-Pw"

# libpq quotes the offending part of a malformed URL, which can be the password itself.
MALFORMED_URLS = [
    pytest.param(f"postgresql://mc:{SECRET}%zz@127.0.0.1:1/mc", id="bad-percent-escape"),
    pytest.param(f"postgresql://mc:{SECRET} x@127.0.0.1:1/mc", id="space-in-password"),
    pytest.param(f"postgresql://mc:{SECRET}@[127.0.0.1/mc", id="unclosed-bracket"),
    pytest.param(f"host=127.0.0.1 password={SECRET} port", id="key-value-without-value"),
]


@pytest.mark.parametrize("url", MALFORMED_URLS)
async def test_a_malformed_url_is_a_config_error_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as opening:
        async with Store.open(url, wait_timeout=1):
            pass
    with pytest.raises(ConfigError) as migrating:
        await apply_migrations(url)

    for raised in (opening.value, migrating.value):
        assert str(raised).startswith("DATABASE_URL: is not a valid PostgreSQL URL (")
        assert SECRET not in str(raised)
        assert raised.__cause__ is None
        assert raised.__suppress_context__


async def test_an_unreachable_server_is_retryable_and_says_why() -> None:
    unreachable = f"postgresql://mc:{SECRET}@127.0.0.1:1/mc"

    with pytest.raises(JournalUnavailable) as raised:
        async with Store.open(unreachable, wait_timeout=0.5):
            pass

    message = str(raised.value)
    assert message.startswith("could not connect to PostgreSQL: connection failed")
    assert "Connection refused" in message
    assert SECRET not in message
    assert raised.value.retry_after is not None
