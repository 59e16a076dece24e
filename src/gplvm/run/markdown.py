"""Markdown tables for the reports that ``gplvm-inspect``, ``gplvm-report`` and ``make bench`` print."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence


def table(
    header: Sequence[str], rows: Iterable[Sequence[object]], cell: Callable[[object], str] = str
) -> str:
    """A GitHub Markdown table; ``cell`` formats each value."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
