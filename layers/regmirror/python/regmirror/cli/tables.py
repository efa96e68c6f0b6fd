"""Tables the commands print: aligned text on a terminal or in a log, GitHub-flavoured Markdown for a
CI job summary (`--format markdown`)."""

from __future__ import annotations

from collections.abc import Sequence

Cell = str | int


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, markdown: bool = False) -> list[str]:
    """The table's lines; numbers are right-aligned, text left-aligned."""
    if markdown:
        return _markdown(headers, rows)
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    numeric = _numeric(headers, rows)

    def line(cells: Sequence[Cell]) -> str:
        parts = [
            str(c).rjust(w) if numeric[i] else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return [line(headers), *(line(row) for row in rows)]


def _markdown(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> list[str]:
    def escaped(cell: Cell) -> str:
        return str(cell).replace("|", "\\|").replace("\n", " ")

    numeric = _numeric(headers, rows)
    rule = ["---:" if n else "---" for n in numeric]
    return [
        "| " + " | ".join(escaped(h) for h in headers) + " |",
        "| " + " | ".join(rule) + " |",
        *("| " + " | ".join(escaped(c) for c in row) + " |" for row in rows),
    ]


def _numeric(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> list[bool]:
    """Columns of numbers (a "-" stands for none) are right-aligned."""
    return [
        bool(rows) and all(isinstance(row[i], int) or row[i] == "-" for row in rows)
        for i in range(len(headers))
    ]
