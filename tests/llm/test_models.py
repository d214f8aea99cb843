"""What models can do (the table, its file, Ollama's own answer) and fitting a context window."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mission_control.errors import ConfigError
from mission_control.llm import SystemMessage, ToolResultMessage, UserMessage
from mission_control.llm.catalog import ModelCatalog, model_problem
from mission_control.llm.models import load_model_table
from mission_control.llm.providers.ollama import OllamaProvider
from mission_control.llm.window import estimate_tokens, fit_window
from mission_control.settings import load_settings
from tests.fakes.ollama import FakeOllama


@pytest.fixture
async def ollama_with_a_toolless_model() -> AsyncIterator[tuple[FakeOllama, ModelCatalog]]:
    with FakeOllama(models=["llama3.1"], without_tools=["tinyllama"], num_ctx=4096) as server:
        adapter = OllamaProvider(base_url=server.url, model="llama3.1", timeout=5)
        catalog = ModelCatalog(table=load_model_table(None), servers={"ollama": adapter.describe})
        yield server, catalog
        await adapter.aclose()


async def test_ollama_says_which_models_are_pulled_and_which_can_call_tools(
    ollama_with_a_toolless_model: tuple[FakeOllama, ModelCatalog],
) -> None:
    _, catalog = ollama_with_a_toolless_model

    able = await catalog.describe(provider="ollama", model="llama3.1")
    toolless = await catalog.describe(provider="ollama", model="tinyllama")
    missing = await catalog.describe(provider="ollama", model="mistral")

    assert (able.present, able.tools, able.context_window) == (True, True, 4096)
    assert model_problem(able) is None
    assert (toolless.tools, model_problem(toolless)) == (
        False,
        (
            "ModelCannotCallTools",
            "ollama model tinyllama cannot call tools (its server does not report the tools "
            "capability), and every Task needs tools: choose a model that supports tool "
            "calling, e.g. llama3.1 or qwen3",
        ),
    )
    problem = model_problem(missing)
    assert problem is not None
    assert problem[0] == "ModelNotPulled"
    assert "`ollama pull mistral`" in problem[1]


async def test_a_switched_off_ollama_leaves_its_models_unknown_not_missing(
    ollama_with_a_toolless_model: tuple[FakeOllama, ModelCatalog],
) -> None:
    server, catalog = ollama_with_a_toolless_model
    server.go_down()

    info = await catalog.describe(provider="ollama", model="tinyllama")

    assert (info.present, info.tools) == (None, None)
    assert model_problem(info) is None


def test_the_model_file_overrides_the_built_in_table(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(
        "gemini:\n  gemini-2.0-flash: {contextWindow: 3000}\n"
        "anthropic:\n  claude-new-9: {contextWindow: 500000, tools: false}\n"
    )

    table = load_model_table(path)

    assert table.info(provider="gemini", model="gemini-2.0-flash-001").context_window == 3000
    assert table.info(provider="gemini", model="gemini-2.5-flash").context_window == 1_048_576
    assert table.info(provider="anthropic", model="claude-new-9").tools is False
    assert table.info(provider="anthropic", model="claude-unknown").tools is None


def test_a_bad_model_file_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("gemini:\n  gemini-2.0-flash: {contextWindow: ten}\n")

    with pytest.raises(ConfigError, match=r"^MC_MODELS_FILE: .*contextWindow") as caught:
        load_model_table(path)
    assert "\n" not in str(caught.value)


def test_a_malformed_fallback_chain_stops_the_start_with_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"MC_MODEL_FALLBACKS": "ollama/llama3.1,gemini-2.0-flash"})

    assert str(caught.value) == (
        "MC_MODEL_FALLBACKS: Value error, 'gemini-2.0-flash' is not PROVIDER/MODEL (e.g. "
        "ollama/llama3.1,gemini/gemini-2.0-flash) (check the environment)"
    )
    chain = load_settings({"MC_MODEL_FALLBACKS": "ollama/llama3.1, gemini/gemini-2.0-flash"})
    assert chain.operator.fallback_chain == (
        ("ollama", "llama3.1"),
        ("gemini", "gemini-2.0-flash"),
    )


def test_the_oldest_tool_outputs_are_shortened_with_a_marker_to_fit_the_window() -> None:
    old = ToolResultMessage(tool_call_id="c1", name="list_k8s_pods", content="a" * 8000)
    new = ToolResultMessage(tool_call_id="c2", name="get_k8s_events", content="b" * 2000)
    conversation = [SystemMessage(content="s"), UserMessage(content="u"), old, new]
    window = estimate_tokens(conversation) - 1000 + 200  # 4000 characters too many

    fitted = fit_window(conversation, tools=(), window=window, reserve=200)

    assert fitted.shortened == 1
    assert fitted.estimate <= window - 200
    shortened = fitted.messages[2]
    assert shortened.content.startswith("a" * 200)
    assert "[shortened to fit the model's context window:" in shortened.content
    assert fitted.messages[3] == new  # the newest output is kept whole
    assert fit_window(conversation, tools=(), window=None, reserve=200).shortened == 0
