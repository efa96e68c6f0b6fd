"""Named phases of the work (enumerate, check, copy) for an adapter to trace: the Lambda handlers make
each one an X-Ray subsegment (aws.observability.traced_phases), so a trace shows where time went
without a subsegment per registry request. The core only names them; `no_phases` is the default.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

Phase = Callable[[str], AbstractContextManager[Any]]  # phase("check") -> a context around that work


def no_phases(_name: str) -> AbstractContextManager[Any]:
    return nullcontext()
