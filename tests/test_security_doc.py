"""docs/SECURITY.md and the tests agree: every case a test cites has a row, every test file a row
names exists and names the case, and every row names a test or says **not yet**."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
CASE_ID = re.compile(r"\b(?:SSRF|PAR|INC|AUTH|LLM|REL)-\d\d\b")
ROW = re.compile(r"^\| ((?:SSRF|PAR|INC|AUTH|LLM|REL)-\d\d) \|(.*)\|\s*$", re.MULTILINE)


def rows(text: str) -> dict[str, tuple[str, list[str]]]:
    """ID -> (the row's answer, the paths in its tests column), from the document's tables."""
    found: dict[str, tuple[str, list[str]]] = {}
    for case, rest in ROW.findall(text):
        cells = [cell.strip() for cell in rest.split("|")]
        assert len(cells) == 3, f"{case}: a row has four columns"
        assert case not in found, f"{case} has two rows"
        found[case] = (cells[1], re.findall(r"`([^`]+\.py)`", cells[2]))
    return found


def where(path: str) -> Path:
    """Rows name test files relative to tests/; benchmarks by their path from the root."""
    return ROOT / path if path.startswith("bench/") else TESTS / path


def problems(text: str) -> list[str]:
    table = rows(text)
    found = []
    for case, (answer, paths) in table.items():
        if not paths and "**not yet**" not in answer:
            found.append(f"{case}: names no test and does not say **not yet**")
        for path in paths:
            file = where(path)
            if not file.is_file():
                found.append(f"{case}: {path} does not exist")
            elif not re.search(rf"\b{case}\b", file.read_text()):
                found.append(f"{case}: {path} does not mention {case}")
    for file in sorted(TESTS.rglob("*.py")):
        for case in sorted(set(CASE_ID.findall(file.read_text())) - set(table)):
            found.append(f"{file.relative_to(ROOT)} cites {case}, which has no row")
    return found


def test_the_document_and_the_tests_agree() -> None:
    assert problems((ROOT / "docs" / "SECURITY.md").read_text()) == []


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (
            "| SSRF-03 | redirect loops | at most 5 | `egress/test_proxy.py` |",
            "SSRF-03: egress/test_proxy.py does not mention SSRF-03",
        ),
        (
            "| SSRF-03 | redirect loops | at most 5 | `egress/test_gone.py` |",
            "SSRF-03: egress/test_gone.py does not exist",
        ),
        ("| SSRF-03 | redirect loops | at most 5 | |", "SSRF-03: names no test"),
    ],
)
def test_a_wrong_row_is_reported(row: str, problem: str) -> None:
    text = (ROOT / "docs" / "SECURITY.md").read_text()
    original = next(line for line in text.splitlines() if line.startswith("| SSRF-03 |"))
    assert any(p.startswith(problem) for p in problems(text.replace(original, row)))


def test_a_cited_case_without_a_row_is_reported() -> None:
    text = (ROOT / "docs" / "SECURITY.md").read_text()
    without = "\n".join(line for line in text.splitlines() if not line.startswith("| REL-10 |"))
    assert "tests/test_migrate.py cites REL-10, which has no row" in problems(without)
