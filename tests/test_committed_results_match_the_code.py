"""No stage's committed result is stale: ``dvc status`` shows no modified dependency or parameter
(outputs missing from the cache and data not pulled are not staleness). ``make test`` runs the same
check once more after the suite, to show that the tests changed nothing DVC tracks."""

from __future__ import annotations

import pytest

from shared.run.stages import stale_stages


@pytest.mark.slow
@pytest.mark.xdist_group("repository_dvc")  # one DVC process at a time in the repository (its lock)
def test_dvc_status_shows_no_stale_stage() -> None:
    stale = stale_stages()
    assert not stale, "stale stages (re-run them, or prove the change result-neutral and dvc commit):\n" + "\n".join(
        f"{stage}: {', '.join(changed[:3])}" for stage, changed in stale.items()
    )
