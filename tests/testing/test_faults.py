"""FaultPlan: matching, counting and seeded probability."""

from __future__ import annotations

import pytest

from plex_cognite.testing._faults import Fault, FaultPlan


def test_matches_method_and_path_regex() -> None:
    plan = FaultPlan(faults=[Fault("status", method="post", path=r"^/events$")])
    assert plan.select("GET", "/events") == []
    assert plan.select("POST", "/events/list") == []
    assert [f.kind for f in plan.select("POST", "/events")] == ["status"]


def test_times_limits_hits_and_none_means_forever() -> None:
    plan = FaultPlan()
    once = plan.add(Fault("status", times=2))
    assert len(plan.select("GET", "/a")) == 1
    assert len(plan.select("GET", "/a")) == 1
    assert plan.select("GET", "/a") == []
    assert once.exhausted
    assert once.hits == 2
    plan.add(Fault("drop"))
    assert all(plan.select("GET", "/a") for _ in range(50))


def test_latency_faults_stack_and_first_terminal_fault_wins() -> None:
    plan = FaultPlan(
        faults=[
            Fault("latency", delay_s=0.1),
            Fault("status", status=500),
            Fault("latency", delay_s=0.2),
            Fault("drop"),
        ]
    )
    fired = plan.select("GET", "/x")
    assert [f.kind for f in fired] == ["latency", "status"]


def test_probability_is_deterministic_by_seed() -> None:
    def pattern(seed: int) -> list[bool]:
        plan = FaultPlan(seed=seed, faults=[Fault("status", probability=0.3)])
        return [bool(plan.select("GET", "/x")) for _ in range(200)]

    assert pattern(1) == pattern(1)
    assert pattern(1) != pattern(2)
    assert 30 < sum(pattern(1)) < 90


def test_clear_removes_rules() -> None:
    plan = FaultPlan(faults=[Fault("drop")])
    plan.clear()
    assert plan.select("GET", "/") == []
    assert plan.faults == []


@pytest.mark.parametrize(
    "kwargs", [{"kind": "explode"}, {"kind": "status", "probability": 1.5}, {"kind": "status", "times": -1}]
)
def test_invalid_rules_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Fault(**kwargs)  # type: ignore[arg-type]
