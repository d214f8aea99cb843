"""The tests' Ollama server: its Go wrapper module, build script and launcher tests."""
