"""A page of rows, fetched with one row more than it holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

Row = TypeVar("Row")


@dataclass(frozen=True)
class Page(Generic[Row]):
    """At most a page of rows, and whether more follow."""

    rows: list[Row]
    more: bool

    @classmethod
    def of(cls, rows: list[Row], limit: int) -> Page[Row]:
        """The page in `rows`, fetched with one row more than `limit`: that one tells that
        another page follows."""
        return cls(rows[:limit], len(rows) > limit)
