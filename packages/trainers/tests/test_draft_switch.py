"""DraftSwitch: a step's cost fitted from the steps seen, and a step drafting only where drafts pay."""

from __future__ import annotations

import pytest

from ner_toolkit_trainers.decoding.switch import DraftSwitch

FIXED, PER_ROW, PER_DRAFT = 0.004, 1e-4, 2e-4  # seconds: a step, a row's pass, a draft token


def fed(switch: DraftSwitch, steps: int, share: float, fixed: float = FIXED) -> DraftSwitch:
    """``switch`` after ``steps`` steps of many sizes, each timed by the costs above, ``share`` of draft tokens accepted."""
    for k in range(steps):
        rows = 1 + (k * 7) % 64
        drafted = 0 if k % 5 == 0 else rows * (1 + k % 4)
        switch.record(rows, drafted, round(share * drafted), fixed + PER_ROW * rows + PER_DRAFT * drafted)
    return switch


def drafting(switch: DraftSwitch, rows: int) -> bool:
    return switch.drafting(switch.worth(rows))


def test_the_fitted_costs_are_those_the_steps_took() -> None:
    switch = fed(DraftSwitch(), 160, 0.3)
    assert switch.cost == pytest.approx((FIXED, PER_ROW, PER_DRAFT), rel=1e-6)
    # a draft token saves 0.3 × (0.004 / 4 + 0.0001) s at 4 rows and costs 0.0002 s (accepted counts were rounded)
    assert switch.worth(4) == pytest.approx(0.3 * (FIXED / 4 + PER_ROW) / PER_DRAFT, rel=1e-2)


def test_a_step_drafts_where_an_accepted_share_of_its_drafts_saves_more_than_they_cost() -> None:
    # 0.3 × (0.004 / rows + 0.0001) > 0.0002 holds below 7.06 rows
    switch = fed(DraftSwitch(probe_on=16, probe_off=64), 160, 0.3)
    assert switch.steps % 16 != 15 and switch.steps % 64 != 63  # not a probe step
    assert drafting(switch, 4) and drafting(switch, 7)
    assert not drafting(switch, 8) and not drafting(switch, 64)
    # a model that copies, with a forward pass that costs more: 0.9 × (0.05 / 64 + 0.0001) > 0.0002
    assert drafting(fed(DraftSwitch(probe_on=16, probe_off=64), 160, 0.9, fixed=0.05), 64)


def test_probe_steps_do_the_other_thing() -> None:
    switch = fed(DraftSwitch(probe_on=16, probe_off=64), 159, 0.3)
    assert switch.steps % 16 == 15 and switch.steps % 64 != 63
    assert drafting(switch, 64) and drafting(switch, 4)  # where drafts do not pay, every 16th step drafts
    fed(switch, 32, 0.3)
    assert switch.steps % 16 == 15 and switch.steps % 64 == 63
    assert drafting(switch, 64) and not drafting(switch, 4)  # where they pay, every 64th step does not


def test_drafts_are_on_until_the_costs_are_known() -> None:
    switch = DraftSwitch(warmup=32)
    assert drafting(switch, 64)
    fed(switch, 20, 0.0)
    assert switch.cost is None and drafting(switch, 64)
