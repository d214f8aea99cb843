"""One adapter per wire API: Ollama, Gemini, Anthropic.

Each maps neutral messages and tool definitions to its API through the official client
library, makes one attempt per call (the libraries' own retries are off), and translates
that library's exceptions into :mod:`mission_control.llm.errors` in one function.
"""
