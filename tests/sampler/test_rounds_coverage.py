"""Coverage per round and across rounds: exact small cases."""

from __future__ import annotations

import numpy as np

from sampler.day.rounds import Round, round_coverage


def _ids(*names: str) -> np.ndarray:
    return np.array(names, dtype=object)


def test_three_rounds_every_some_and_none() -> None:
    """H1 sampled every day, H2 on days 1 and 3, H3 never; H4 is only in round 2 (moved in) and
    counts in that round but not across rounds; a check-in of a household a round does not list
    (H9) counts nowhere."""
    rounds = [Round(1, (1,), _ids("H1", "H2", "H3"), _ids("H1", "H2", "H9")),
              Round(2, (2, 3), _ids("H1", "H2", "H3", "H4"), _ids("H1", "H4")),
              Round(3, (4,), _ids("H1", "H2", "H3"), _ids("H1", "H2"))]
    report = round_coverage(rounds)
    assert [(r["round"], r["plan_ids"], r["households"], r["sampled_households"]) for r in report["rounds"]] == [
        (1, [1], 3, 2), (2, [2, 3], 4, 2), (3, [4], 3, 2)]
    assert report["rounds"][1]["coverage"] == 0.5
    assert report["across"] == {"rounds": 3, "households": 3, "sampled_every_round": 1, "sampled_some_round": 2,
                                "never_sampled": 1, "coverage_every_round": round(1 / 3, 6)}


def test_no_rounds_and_an_empty_round() -> None:
    assert round_coverage([])["across"]["households"] == 0
    report = round_coverage([Round(1, (1,), _ids(), _ids())])
    assert report["rounds"][0]["coverage"] == 1.0 and report["across"]["coverage_every_round"] == 1.0
