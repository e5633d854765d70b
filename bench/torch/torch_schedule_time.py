#!/usr/bin/env python3
"""Times PyTorch building a pipeline order, the reference for pipec's
`pipec schedule ... --format torch-csv` benchmark (bench/schedule.ts).

PyTorch's schedule classes compute every rank's order when constructed
(pipeline_order); this builds ScheduleInterleaved1F1B for P ranks, M
microbatches and V stages per rank on rank 0 of a fake process group (no
communication), writes the compute-only CSV with _dump_csv, and optionally
lowers it with PyTorch's own send/recv insertion (_add_send_recv), the
compute_comms form. Prints one JSON line with the seconds of each part and
of the whole process, imports included.

Usage: python3 torch_schedule_time.py [-p 32] [-m 512] [-v 4] [--comms] [--out FILE.csv]
"""
import time

process_started = time.perf_counter()
import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch.distributed.pipelining import PipelineStage  # noqa: E402
from torch.distributed.pipelining import schedules  # noqa: E402
from torch.testing._internal.distributed.fake_pg import FakeStore  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-p", type=int, default=32)
    parser.add_argument("-m", type=int, default=512)
    parser.add_argument("-v", type=int, default=4)
    parser.add_argument("--comms", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    imported = time.perf_counter()

    dist.init_process_group("fake", store=FakeStore(), rank=0, world_size=args.p)
    width = 4
    shape = torch.empty(1, width, device="meta")
    # Rank 0's stages under loop placement: 0, P, 2P, ...; static shapes, so nothing is exchanged.
    stages = [
        PipelineStage(torch.nn.Linear(width, width), stage, args.p * args.v, torch.device("cpu"), input_args=(shape,), output_args=(shape,))
        for stage in range(0, args.p * args.v, args.p)
    ]
    started = time.perf_counter()
    schedule = schedules.ScheduleInterleaved1F1B(stages, n_microbatches=args.m, loss_fn=lambda out, target: out.sum())
    built = time.perf_counter()
    out = args.out or os.path.join(tempfile.mkdtemp(), "order.csv")
    schedule._dump_csv(out)
    dumped = time.perf_counter()
    actions = sum(1 for order in schedule.pipeline_order.values() for action in order if action is not None)
    lowered = dumped
    if args.comms:
        placement = {stage: stage % args.p for stage in range(args.p * args.v)}
        # _add_send_recv consumes the lists it is given.
        schedules._add_send_recv({rank: list(order) for rank, order in schedule.pipeline_order.items()}, stage_to_rank=lambda s: placement[s], num_stages=args.p * args.v)
        lowered = time.perf_counter()
    dist.destroy_process_group()
    print(json.dumps({
        "torch": torch.__version__, "p": args.p, "m": args.m, "v": args.v, "computeActions": actions,
        "importSeconds": imported - process_started, "buildSeconds": built - started,
        "dumpCsvSeconds": dumped - built, "addSendRecvSeconds": (lowered - dumped) if args.comms else None,
        "totalSeconds": time.perf_counter() - process_started,
    }))


if __name__ == "__main__":
    main()
