"""The generated propositional-logic data in the session's prepared folder (made once, ~10 s)."""

from __future__ import annotations

import pytest

from shared.data import propositional_logic
from shared.data.prepared import prepared_root


@pytest.fixture(scope="session")
def logic_data() -> None:
    out = prepared_root() / propositional_logic.NAME
    if not (out / "pairs.pt").exists():
        propositional_logic.prepare(out, out)
