"""Data-parallel prediction: under ``accelerate launch`` or torchrun every process predicts its share.

Before a split, the main process merges what a killed launch left (its shards) into the
predictions file; every process then shares out what that file does not hold, so all of
them see the same work to share, however late one starts. Each process appends its
predictions to a shard of its own (``test.rank1.jsonl``), then leaves a marker; the main
process waits for every marker, merges the shards into the predictions file in sentence
order, and removes the shards. No sentence is lost or predicted twice, whatever the number
of processes of the rerun.

The processes meet through files in the output folder (which they share), not through
torch.distributed, so the core stays free of torch. A launcher that loses one process
stops the others, so no process waits for a marker that never comes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..interfaces import Prediction
from ..textio import write_text
from .predictions import prediction_line, read_predictions


@dataclass(frozen=True)
class World:
    """This process's place in a data-parallel launch: ``rank`` of ``size`` processes (0 of 1 when alone)."""

    rank: int = 0
    size: int = 1
    launch: str = ""
    """The same in every process of one launch and new in the next: torchrun's run id, else the launcher's pid."""

    @classmethod
    def from_environment(cls) -> World:
        launch = os.environ.get("TORCHELASTIC_RUN_ID") or f"launcher-{os.getppid()}"
        return cls(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")), launch)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def share(self, items: list[int]) -> list[int]:
        """This process's items: every size-th one, starting at its rank."""
        return items[self.rank :: self.size]


def shard_path(path: Path, rank: int) -> Path:
    return path.with_name(f"{path.stem}.rank{rank}{path.suffix}")


def shards(path: Path) -> list[Path]:
    """Shard files left beside ``path`` by any rank, of this run or a killed one."""
    return sorted(path.parent.glob(f"{path.stem}.rank*{path.suffix}"))


def _marker(path: Path, name: str) -> Path:
    return path.with_name(f".{path.stem}.{name}")


def read_all(path: Path) -> dict[str, Prediction]:
    """Every prediction written so far: the merged file and every shard (a torn last line is cut off)."""
    done = read_predictions(path)
    for shard in shards(path):
        done.update(read_predictions(shard))
    return done


def wait_for(paths: list[Path], content: str, timeout: float, poll: float = 0.05) -> None:
    """Wait until every file in ``paths`` holds ``content``."""
    deadline = time.monotonic() + timeout
    while True:
        if all(p.exists() and p.read_text(encoding="utf-8") == content for p in paths):
            return
        if time.monotonic() > deadline:
            missing = [str(p) for p in paths if not (p.exists() and p.read_text(encoding="utf-8") == content)]
            raise TimeoutError(f"data-parallel prediction: no word from the other processes after {timeout:.0f} s ({missing})")
        time.sleep(poll)


def begin(path: Path, world: World, stage_key: str, order: list[str], timeout: float = 3600) -> str:
    """Meet before a split is predicted: the main process has cleaned up; returns this split's token.

    The main process removes the markers of an earlier launch and merges its shards into
    ``path``, so that ``path`` alone holds what is done and stays unchanged until every
    process has finished: each process shares out the same remaining work, even one that
    starts after another has written its first predictions. The token names the stage's
    fingerprint and this launch, the same in every process; the main process writes it
    once it has cleaned up, and the others wait for exactly that.
    """
    ready = _marker(path, "ready")
    token = f"{stage_key} {world.launch}"
    if world.main:
        for rank in range(world.size):
            _marker(path, f"rank{rank}.done").unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        if shards(path):
            merge(path, read_all(path), order)
        write_text(ready, token)
        return token
    wait_for([ready], token, timeout)
    return token


def finish(path: Path, world: World, token: str, order: list[str], timeout: float = 24 * 3600) -> None:
    """Mark this process's share done; the main process waits for all, then merges the shards into ``path``."""
    write_text(_marker(path, f"rank{world.rank}.done"), token)
    if not world.main:
        return
    wait_for([_marker(path, f"rank{rank}.done") for rank in range(world.size)], token, timeout)
    merge(path, read_all(path), order)
    for rank in range(world.size):
        _marker(path, f"rank{rank}.done").unlink(missing_ok=True)
    _marker(path, "ready").unlink(missing_ok=True)


def merge(path: Path, done: dict[str, Prediction], order: list[str]) -> None:
    """Write every prediction into ``path`` in sentence order, then remove the shards."""
    write_text(path, "".join(prediction_line(done[i]) for i in order if i in done))
    for shard in shards(path):
        shard.unlink()
