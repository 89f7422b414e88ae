"""news-creator: the LLM gateway (an Ollama-compatible API and /api/v1/summarize)."""
