"""Whether a decoding step should draft: drafts pay where the passes they save cost more than the positions they add."""

from __future__ import annotations

KEEP_DRAFTS = 2.0  # where a draft token saves this many times what it costs, a rejection does not shorten the next draft


class DraftSwitch:
    """Whether a step should draft, from what steps have cost: drafts pay where they save more than they cost.

    A step's time is fitted as ``fixed + per_row × rows + per_draft × draft tokens`` (least
    squares over the steps seen, each older step weighing ``decay`` times less), and the
    share of draft tokens accepted is followed likewise. A step of ``rows`` rows drafts where
    ``accepted share × (fixed / rows + per_row) > per_draft``: an accepted draft token saves
    a row's pass, a draft token costs its planning and its position in the forward pass
    (``worth`` is the ratio of the two; where it is above ``KEEP_DRAFTS``, a rejected draft
    does not shorten the row's next one either). So a batch whose forward pass costs more
    than the host's planning drafts; one whose host work per draft position outweighs the
    passes it saves (a model that seldom copies, run where its forward pass costs little)
    does not. Probes keep the figures current: while drafts do not pay, every
    ``probe_on``-th step drafts; while they do, every ``probe_off``-th step does not (rarer,
    since such a step gives up a pass's worth of accepted tokens in every row). The output
    does not depend on any of it.
    """

    def __init__(self, probe_on: int = 16, probe_off: int = 64, decay: float = 0.99, warmup: int = 32) -> None:
        self.probe_on = probe_on
        self.probe_off = probe_off
        self.decay = decay
        self.warmup = warmup
        self.steps = 0
        self._xx = [[0.0] * 3 for _ in range(3)]  # weighted sums of x xᵀ, x = (1, rows, draft tokens)
        self._xy = [0.0] * 3  # and of x × seconds
        self._accepted = 0.0
        self._drafted = 0.0
        self.cost: tuple[float, float, float] | None = None  # fixed, per row, per draft token (seconds)

    def worth(self, rows: int) -> float | None:
        """What a draft token saves over what it costs, in a step of ``rows`` rows; ``None`` before the first fit."""
        if self.cost is None or not self._drafted:
            return None
        fixed, per_row, per_draft = self.cost
        saves = self._accepted / self._drafted * (fixed / rows + per_row)
        return saves / per_draft if per_draft > 0 else float("inf")

    def drafting(self, worth: float | None) -> bool:
        """Whether the next step drafts, given what a draft token is ``worth`` in it."""
        if worth is None or worth > 1:
            return self.steps % self.probe_off != self.probe_off - 1
        return self.steps % self.probe_on == self.probe_on - 1

    def record(self, rows: int, drafted: int, accepted: int, seconds: float) -> None:
        """A step's rows, draft tokens, accepted draft tokens and time."""
        self.steps += 1
        x = (1.0, float(rows), float(drafted))
        for i in range(3):
            self._xy[i] = self.decay * self._xy[i] + x[i] * seconds
            for j in range(3):
                self._xx[i][j] = self.decay * self._xx[i][j] + x[i] * x[j]
        if drafted:
            self._accepted = self.decay * self._accepted + accepted
            self._drafted = self.decay * self._drafted + drafted
        if self.steps >= self.warmup and self.steps % 16 == 0:  # refitted every 16 steps
            self.cost = _solve3(self._xx, self._xy)


def _solve3(a: list[list[float]], b: list[float]) -> tuple[float, float, float] | None:
    """The solution of the 3×3 system ``a x = b`` by Cramer's rule, or ``None`` where it is (nearly) singular."""

    def det(m: list[list[float]]) -> float:
        return (
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        )

    whole = det(a)
    scale = a[0][0] * a[1][1] * a[2][2]
    if not scale or abs(whole) < 1e-9 * abs(scale):
        return None
    solution = []
    for k in range(3):
        m = [row[:k] + [b[i]] + row[k + 1 :] for i, row in enumerate(a)]
        solution.append(det(m) / whole)
    return solution[0], solution[1], solution[2]
