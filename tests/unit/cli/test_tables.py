"""Tables: numbers right-aligned (a "-" is a number's absence), Markdown cells escaped."""

from __future__ import annotations

from regmirror.cli.tables import table


def test_text_tables_align_numbers_right_and_text_left() -> None:
    lines = table(("name", "listed", "n"), [["a", 3, 10], ["long-name", "-", 2]])
    assert lines == ["name       listed   n", "a               3  10", "long-name       -   2"]


def test_markdown_tables_escape_pipes_and_mark_number_columns() -> None:
    lines = table(("from", "images"), [["regex:a|b", 2]], markdown=True)
    assert lines == ["| from | images |", "| --- | ---: |", "| regex:a\\|b | 2 |"]


def test_an_empty_table_is_its_header() -> None:
    assert table(("a", "b"), []) == ["a  b"]
