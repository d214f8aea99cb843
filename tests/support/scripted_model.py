"""Tiny GGUF models whose answers are scripted, for a real Ollama server.

A test writes the assistant turns it wants, in order::

    name = scripted_model(
        turns=[
            call("list_k8s_pods", namespace="ns1"),
            call("get_k8s_events", namespace="ns1"),
            say("Pod web-0 crashes: OOMKilled."),
        ]
    )

and a run loop that sends the growing conversation to ``/api/chat`` gets turn *n* as the
answer to a conversation holding *n* assistant messages so far (tool results in between do not
count; Ollama merges adjacent messages of the same role, so two assistant messages in a row
count once). Turns:

- :func:`say` -- text, optionally after ``thinking`` (the model then has the ``thinking``
  capability and Ollama returns it in ``message.thinking``);
- :func:`call` -- one tool call, written inside the template's ``<tool_call>`` tag so Ollama's
  own parser returns it as a structured ``tool_calls`` entry (only when the request offers a tool
  of that name, as with any model);
- :func:`calls` -- several tool calls in one turn, optionally after some text;
- :func:`json_call` -- a tool call written as plain JSON text, the habit of small models that
  Ollama does not recognise: it arrives as ``content``.

A request past the end of the script gets :data:`NO_MORE_TURNS` as its answer.
``tools=False`` makes a model whose template has no tools section: Ollama then lacks the
``tools`` capability and answers 400 "does not support tools" to a request offering tools.

How it works: a llama-architecture model with one block whose attention output and feed-forward
down-projection are zero, so the hidden state is the current token's embedding and the next
token depends on the current one only. Tokens that drive the script get one-hot embeddings and
an output head giving their successor a logit of about 160 and every other token 0, so any
sampling settings produce the same text. Every piece of scripted text is a token of its own
(a byte-level BPE vocabulary: all 256 byte tokens, a few merges, then one token per piece), and
the chat template ends each prompt with a control token ``<|turn_N|>``, N being the number of
assistant messages so far, whose successor is the first piece of turn N. The prompt's other
tokens do not matter; the template still renders a short preview of every message so token
counts grow with the conversation as they would with a real model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "NO_MORE_TURNS",
    "ScriptedModel",
    "ToolCallSpec",
    "Turn",
    "build_scripted_model",
    "call",
    "calls",
    "json_call",
    "say",
]

#: The answer to a conversation that already has as many assistant messages as the script.
NO_MORE_TURNS = "[scripted model: the script has no more turns]"
#: The logit of the scripted next token; every other token gets 0.
_LOGIT = 160.0
_CONTEXT = 8192
#: Characters of each message the template renders (see the module docstring).
_PREVIEW = 48
_HEAD_DIM = 64
_FFN = 32
_BEGIN, _END, _OVER = "<|begin|>", "<|end|>", "<|turn_over|>"
_NORMAL, _CONTROL = 1, 3  # llama.cpp token types
_MERGES = (("Ġ", "t"), ("Ġ", "a"), ("i", "n"), ("e", "r"))
_CHUNK = re.compile(r"\s*\S+|\s+")


@dataclass(frozen=True)
class ToolCallSpec:
    """One scripted tool call: a tool name and its arguments."""

    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True)
class Turn:
    """One scripted assistant answer; build it with :func:`say`, :func:`call` and friends."""

    text: str = ""
    thinking: str | None = None
    tool_calls: tuple[ToolCallSpec, ...] = ()

    def render(self) -> str:
        """The exact text the model generates for this turn."""
        out = f"<think>{self.thinking}</think>" if self.thinking else ""
        out += self.text
        for spec in self.tool_calls:
            payload = json.dumps({"name": spec.name, "arguments": dict(spec.arguments)})
            out += f"<tool_call>{payload}</tool_call>"
        return out


def say(text: str, *, thinking: str | None = None) -> Turn:
    """A turn answering with ``text``, optionally after ``thinking``."""
    return Turn(text=text, thinking=thinking)


def call(name: str, /, **arguments: Any) -> Turn:
    """A turn calling one tool; Ollama returns it as a structured tool call."""
    return Turn(tool_calls=(ToolCallSpec(name, arguments),))


def calls(*turns: Turn, text: str = "", thinking: str | None = None) -> Turn:
    """One turn with the tool calls of several :func:`call` turns, after optional ``text``."""
    specs = tuple(spec for turn in turns for spec in turn.tool_calls)
    if not specs or any(turn.text or turn.thinking for turn in turns):
        raise ValueError("calls() combines call() turns")
    return Turn(text=text, thinking=thinking, tool_calls=specs)


def json_call(name: str, /, **arguments: Any) -> Turn:
    """A turn writing a tool call as plain JSON text, outside any tool-call tag."""
    return Turn(text=json.dumps({"name": name, "arguments": arguments}))


@dataclass(frozen=True)
class ScriptedModel:
    """What Ollama needs to create the model: the GGUF file and the Modelfile's pieces."""

    gguf: Path
    template: str
    parameters: dict[str, Any] = field(default_factory=dict)
    capabilities: tuple[str, ...] = ()


def build_scripted_model(
    turns: Sequence[Turn], *, path: Path, tools: bool = True, thinking: bool | None = None
) -> ScriptedModel:
    """Write the GGUF for ``turns`` to ``path`` and return it with its template.

    ``thinking`` defaults to whether any turn thinks.
    """
    thinking = any(turn.thinking for turn in turns) if thinking is None else thinking
    vocab = _Vocabulary(turns=len(turns))
    answers = [turn.render() for turn in turns] + [NO_MORE_TURNS]
    chains: dict[str, list[int]] = {}
    for answer in answers:  # identical answers share one chain of tokens
        if answer not in chains:
            chains[answer] = [vocab.claim(piece) for piece in _pieces(answer, vocab)]
    successors: dict[int, int] = {}
    for index, answer in enumerate(answers):
        chain = chains[answer]
        control = vocab.control(index if index < len(turns) else None)
        successors[control] = chain[0] if chain else vocab.end
        for current, following in zip(chain, [*chain[1:], vocab.end], strict=True):
            successors[current] = following
    _write_gguf(path, vocab=vocab, successors=successors)
    capabilities = ("completion", *(("tools",) if tools else ()), *(("thinking",) * thinking))
    return ScriptedModel(
        gguf=path,
        template=_template(turns=len(turns), tools=tools, thinking=thinking),
        # One thread: the model is tiny, and llama.cpp's threads waiting on each other made each
        # token take ~70 ms instead of well under 1 ms on a busy 2-core machine.
        parameters={"num_ctx": _CONTEXT, "num_thread": 1},
        capabilities=capabilities,
    )


def _byte_alphabet() -> dict[int, str]:
    """Byte-level BPE's printable stand-in for every byte (GPT-2's well-known mapping)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    table = {byte: chr(byte) for byte in printable}
    extra = 0
    for byte in range(256):
        if byte not in table:
            table[byte] = chr(256 + extra)
            extra += 1
    return table


_ALPHABET = _byte_alphabet()


def _encode(text: str) -> str:
    return "".join(_ALPHABET[byte] for byte in text.encode())


class _Vocabulary:
    """Tokens: BOS, EOS, one control token per turn, the 256 bytes, merges, script pieces."""

    def __init__(self, *, turns: int) -> None:
        self.tokens: list[str] = [_BEGIN, _END, *(f"<|turn_{n}|>" for n in range(turns)), _OVER]
        self.types = [_CONTROL] * len(self.tokens)
        self.end = 1
        self.tokens += [_ALPHABET[byte] for byte in range(256)]
        self.tokens += [left + right for left, right in _MERGES]
        self.types += [_NORMAL] * (len(self.tokens) - len(self.types))
        self.ids = {token: index for index, token in enumerate(self.tokens)}
        # Control tokens drive the script too; text pieces join as they are claimed.
        self.drivers: list[int] = list(range(2, turns + 3))
        self.taken = {*self.tokens[: turns + 3]}

    def control(self, turn: int | None) -> int:
        return self.ids[_OVER if turn is None else f"<|turn_{turn}|>"]

    def claim(self, piece: str) -> int:
        """The token for ``piece`` (found free by :func:`_pieces`), now driving the script."""
        encoded = _encode(piece)
        if encoded not in self.ids:
            self.ids[encoded] = len(self.tokens)
            self.tokens.append(encoded)
            self.types.append(_NORMAL)
        self.drivers.append(self.ids[encoded])
        return self.ids[encoded]


def _pieces(text: str, vocab: _Vocabulary) -> list[str]:
    """``text`` cut into pieces no other scripted text uses (a token has one successor).

    Word-sized pieces first; where one is taken, a shorter then a longer one, backtracking when
    a cut leads nowhere. Fails only for scripts that reuse the same short texts many times.
    """
    own: set[str] = set()
    budget = [20_000]

    def cut(start: int) -> list[str] | None:
        if start == len(text):
            return []
        match = _CHUNK.match(text, start)
        natural = match.end() if match else len(text)
        # Single characters last: their byte tokens are all a one-character answer could use.
        ends = [*range(natural, start + 1, -1), *range(natural + 1, len(text) + 1), start + 1]
        for end in dict.fromkeys(ends):
            budget[0] -= 1
            if budget[0] < 0:
                return None
            encoded = _encode(text[start:end])
            if encoded in vocab.taken or encoded in own:
                continue
            own.add(encoded)
            rest = cut(end)
            if rest is not None:
                return [text[start:end], *rest]
            own.discard(encoded)
        return None

    pieces = cut(0)
    if pieces is None:
        raise ValueError(f"cannot script {text!r}: its pieces are all taken by other turns")
    vocab.taken |= own
    return pieces


def _write_gguf(path: Path, *, vocab: _Vocabulary, successors: Mapping[int, int]) -> None:
    import gguf  # a dev dependency, imported here so merely collecting tests does not need it

    size = len(vocab.tokens)
    # One dimension per driving token, one shared by all others (their successor is EOS).
    width = max(32, -(-(len(vocab.drivers) + 1) // 32) * 32)
    other = len(vocab.drivers)
    dims = {token: index for index, token in enumerate(vocab.drivers)}
    embeddings = np.zeros((size, width), dtype=np.float32)
    for token in range(size):
        embeddings[token, dims.get(token, other)] = 1.0
    # RMS normalisation turns a one-hot 1 into sqrt(width); the head scales it to _LOGIT.
    head = np.zeros((size, width), dtype=np.float32)
    scale = _LOGIT / np.sqrt(width)
    for token, dim in dims.items():
        head[successors.get(token, vocab.end), dim] = scale
    head[vocab.end, other] = scale

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("scripted")
    writer.add_context_length(_CONTEXT)
    writer.add_embedding_length(width)
    writer.add_block_count(1)
    writer.add_feed_forward_length(_FFN)
    writer.add_head_count(1)
    writer.add_head_count_kv(1)
    writer.add_key_length(_HEAD_DIM)
    writer.add_value_length(_HEAD_DIM)
    writer.add_rope_dimension_count(_HEAD_DIM)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.types)
    writer.add_token_merges([f"{left} {right}" for left, right in _MERGES])
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(vocab.end)
    writer.add_add_bos_token(False)
    writer.add_add_eos_token(False)

    ones = np.ones(width, dtype=np.float32)
    writer.add_tensor("token_embd.weight", embeddings)
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output.weight", head)
    writer.add_tensor("blk.0.attn_norm.weight", ones)
    writer.add_tensor("blk.0.ffn_norm.weight", ones)
    for name, shape in {
        "attn_q": (_HEAD_DIM, width),
        "attn_k": (_HEAD_DIM, width),
        "attn_v": (_HEAD_DIM, width),
        "attn_output": (width, _HEAD_DIM),  # zero: attention adds nothing
        "ffn_gate": (_FFN, width),
        "ffn_up": (_FFN, width),
        "ffn_down": (width, _FFN),  # zero: the feed-forward block adds nothing
    }.items():
        writer.add_tensor(f"blk.0.{name}.weight", np.zeros(shape, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _template(*, turns: int, tools: bool, thinking: bool) -> str:
    """The chat template: message previews, then the control token for the next turn."""
    parts = [
        '{{- $turns := "" }}',
        "{{- range .Messages }}",
        '{{- if eq .Role "assistant" }}{{ $turns = printf "%s." $turns }}{{ end }}',
        f'<|{{{{ .Role }}}}|>{{{{ printf "%.{_PREVIEW}s" .Content }}}}',
    ]
    if thinking:  # Ollama infers the thinking tags from the text around .Thinking
        parts.append("{{- if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}")
    if tools:  # Ollama takes the tool-call tag from the first text inside this block
        parts.append(
            "{{- if .ToolCalls }}<tool_call>{{ range .ToolCalls }}"
            '{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}'
            "{{ end }}</tool_call>{{ end }}"
        )
    parts.append("{{- end }}")
    if tools:
        parts.append("{{- if .Tools }}<|tools|>{{ len .Tools }}{{ end }}")
    parts.append(
        f"{{{{- if lt (len $turns) {turns} }}}}<|turn_{{{{ len $turns }}}}|>"
        f"{{{{- else }}}}{_OVER}{{{{- end }}}}"
    )
    return "\n".join(parts)
