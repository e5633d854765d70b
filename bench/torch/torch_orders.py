#!/usr/bin/env python3
"""Writes PyTorch's own compute-only pipeline orders for a grid of settings.

PyTorch's schedule classes compute every rank's order when they are built
(`pipeline_order`). This builds each requested class on rank 0 of a fake
process group (nothing is exchanged; static shapes skip shape inference) and
prints one JSON line per setting:

  {"schedule": "ScheduleZBVZeroBubble", "p": 4, "m": 8, "v": 2,
   "rows": [["0F0", "", ...], ...]}            # one list of cells per rank
  {"schedule": ..., "p": ..., "m": ..., "v": ..., "refused": "message"}

`refused` is PyTorch's own error for a setting it does not accept, so the
caller can compare on exactly the settings PyTorch runs.

Usage: torch_orders.py SCHEDULE:P:M:V [SCHEDULE:P:M:V ...]
       torch_orders.py --grid SCHEDULE[,SCHEDULE...] --ranks 2-16 [--v 2]
         (the grid is m in p..4p for every p of --ranks)
"""
import argparse
import contextlib
import io
import json
import sys

import torch
import torch.distributed as dist
from torch.distributed.pipelining import PipelineStage
from torch.distributed.pipelining import schedules
from torch.testing._internal.distributed.fake_pg import FakeStore

# Where rank 0's stages sit: PyTorch's V schedules put stage r and 2p-1-r on
# rank r; the others loop (stage r, r+p, r+2p, ...).
V_PLACED = {"ScheduleZBVZeroBubble", "ScheduleDualPipeV"}
SINGLE = {"ScheduleGPipe", "Schedule1F1B"}


def rank0_stages(name, p, v):
    if name in SINGLE:
        return [0]
    if name in V_PLACED:
        return [0, 2 * p - 1]
    return list(range(0, p * v, p))


def build(name, p, m, v):
    width = 2
    shape = torch.empty(1, width, device="meta")
    stages = [
        PipelineStage(torch.nn.Linear(width, width), stage, p * v, torch.device("cpu"),
                      input_args=(shape,), output_args=(shape,))
        for stage in rank0_stages(name, p, v)
    ]
    cls = getattr(schedules, name)
    loss = lambda out, target: out.sum()  # noqa: E731
    if name in SINGLE:
        schedule = cls(stages[0], n_microbatches=m, loss_fn=loss)
    else:
        schedule = cls(stages, n_microbatches=m, loss_fn=loss)
    order = schedule.pipeline_order
    if order is None:
        raise ValueError(f"{name} builds no pipeline_order")
    return [[str(action) if action is not None else "" for action in order[rank]] for rank in range(p)]


def settings_from(args):
    if args.grid:
        low, _, high = args.ranks.partition("-")
        for name in args.grid.split(","):
            v = 1 if name in SINGLE else args.v
            for p in range(int(low), int(high or low) + 1):
                for m in range(p, 4 * p + 1):
                    yield name, p, m, v
    for item in args.settings:
        name, p, m, v = item.split(":")
        yield name, int(p), int(m), int(v)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("settings", nargs="*")
    parser.add_argument("--grid")
    parser.add_argument("--ranks", default="2-16")
    parser.add_argument("--v", type=int, default=2)
    args = parser.parse_args()
    current_world = None
    for name, p, m, v in settings_from(args):
        if current_world != p:
            if current_world is not None:
                dist.destroy_process_group()
            dist.init_process_group("fake", store=FakeStore(), rank=0, world_size=p)
            current_world = p
        record = {"schedule": name, "p": p, "m": m, "v": v}
        try:
            # PyTorch prints warnings for some settings; keep stdout JSON only.
            with contextlib.redirect_stdout(io.StringIO()):
                record["rows"] = build(name, p, m, v)
        except Exception as error:  # PyTorch's refusal of this setting
            record["refused"] = f"{type(error).__name__}: {error}"
        print(json.dumps(record), flush=True)
    if current_world is not None:
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
