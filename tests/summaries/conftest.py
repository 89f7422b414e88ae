"""Fixtures of the summary tests: the adversarial fake LLM."""

from tests.summaries.support import fake_llm  # noqa: F401 - a fixture
