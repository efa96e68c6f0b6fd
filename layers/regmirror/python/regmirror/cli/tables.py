"""Tables the commands print: aligned text on a terminal or in a log, GitHub-flavoured Markdown for a
CI job summary (`--format markdown`)."""

from __future__ import annotations

from collections.abc import Sequence

Cell = str | int


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, markdown: bool = False) -> list[str]:
    """The table's lines; number columns right-aligned, text left-aligned."""
    numeric = _numeric(headers, rows)
    if markdown:
        rule = ["---:" if n else "---" for n in numeric]
        return [_markdown_row(headers), _markdown_row(rule), *(_markdown_row(row) for row in rows)]
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    return [_text_row(cells, widths, numeric) for cells in (headers, *rows)]


def _text_row(cells: Sequence[Cell], widths: list[int], numeric: list[bool]) -> str:
    parts = [
        str(c).rjust(w) if n else str(c).ljust(w) for c, w, n in zip(cells, widths, numeric, strict=True)
    ]
    return "  ".join(parts).rstrip()


def _markdown_row(cells: Sequence[Cell]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _numeric(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> list[bool]:
    """Columns of numbers (a "-" stands for none) are right-aligned."""
    return [bool(rows) and all(_is_number(row[i]) for row in rows) for i in range(len(headers))]


def _is_number(cell: Cell) -> bool:
    return isinstance(cell, int) or cell == "-"
