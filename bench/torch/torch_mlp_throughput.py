#!/usr/bin/env python3
"""PyTorch's side of the bench row "pipec vs PyTorch on the same model"
(bench/torchCompare.ts): trains the model of samples/mlp.pipe (784-256-256-
256-10, ReLU, softmax cross-entropy, Adam lr 1e-3) on batches of 64 random
MNIST-shaped examples and prints one JSON line with the throughput.

  --mode single     one process, the whole batch at once (PyTorch's default
                    intra-op threads: every core; --threads N to set them)
  --mode pipeline   4 processes over gloo, one stage each (fc1 | hidden[0] |
                    hidden[1] | out, as in the sample), PyTorch's own
                    Schedule1F1B with 8 microbatches; one intra-op thread per
                    process, as torchrun sets it for several processes

Steps after --warmup are timed; the figure is examples / (wall time of the
timed steps), rank 0's clock for the pipeline (every rank ends a step in
lock-step with the schedule's last send/recv).

Usage: python3 torch_mlp_throughput.py --mode single|pipeline [--steps 200] [--warmup 10] [--threads N]
"""
import argparse
import json
import os
import socket
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

WIDTHS = [784, 256, 256, 256, 10]
BATCH = 64
MICROBATCHES = 8


def stage_modules():
    """The sample's four stages: fc1, hidden[0], hidden[1] with ReLU, out without."""
    modules = []
    for index in range(len(WIDTHS) - 1):
        linear = torch.nn.Linear(WIDTHS[index], WIDTHS[index + 1])
        modules.append(torch.nn.Sequential(linear, torch.nn.ReLU()) if index < len(WIDTHS) - 2 else linear)
    return modules


def batches(steps, seed=1):
    generator = torch.Generator().manual_seed(seed)
    # A handful of distinct batches, reused: data loading is not what is measured.
    pool = [(torch.rand(BATCH, WIDTHS[0], generator=generator), torch.randint(0, WIDTHS[-1], (BATCH,), generator=generator)) for _ in range(8)]
    return [pool[step % len(pool)] for step in range(steps)]


def run_single(steps, warmup, threads):
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = torch.nn.Sequential(*stage_modules())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    data = batches(steps)
    started = None
    for step, (x, y) in enumerate(data):
        if step == warmup:
            started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    loss_value = float(loss.detach())
    seconds = time.perf_counter() - started
    timed = steps - warmup
    return {"mode": "single", "threads": torch.get_num_threads(), "steps": steps, "timedSteps": timed,
            "seconds": seconds, "examplesPerSecond": timed * BATCH / seconds, "finalLoss": loss_value}


def pipeline_rank(rank, world, port, steps, warmup, out_path):
    from torch.distributed.pipelining import PipelineStage, Schedule1F1B

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(1)
    module = stage_modules()[rank]
    # Shapes are inferred in the first step (a metadata exchange between neighbours).
    stage = PipelineStage(module, rank, world, torch.device("cpu"))
    loss_fn = torch.nn.CrossEntropyLoss()
    schedule = Schedule1F1B(stage, n_microbatches=MICROBATCHES, loss_fn=loss_fn)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    data = batches(steps)
    started = None
    losses = []
    for step, (x, y) in enumerate(data):
        if step == warmup:
            dist.barrier()
            started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        if rank == 0:
            schedule.step(x)
        elif rank == world - 1:
            losses = []
            schedule.step(target=y, losses=losses)
        else:
            schedule.step()
        optimizer.step()
    dist.barrier()
    seconds = time.perf_counter() - started
    if rank == world - 1:
        with open(out_path, "w") as handle:
            json.dump({"finalLoss": float(sum(float(l.detach()) for l in losses) / len(losses))}, handle)
    if rank == 0:
        timed = steps - warmup
        with open(out_path + ".rank0", "w") as handle:
            json.dump({"seconds": seconds, "examplesPerSecond": timed * BATCH / seconds, "timedSteps": timed}, handle)
    dist.destroy_process_group()


def run_pipeline(steps, warmup):
    import tempfile

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out_path = os.path.join(tempfile.mkdtemp(), "result.json")
    world = len(WIDTHS) - 1
    mp.spawn(pipeline_rank, args=(world, port, steps, warmup, out_path), nprocs=world, join=True)
    with open(out_path + ".rank0") as handle:
        timing = json.load(handle)
    with open(out_path) as handle:
        last = json.load(handle)
    return {"mode": "pipeline", "schedule": "Schedule1F1B", "processes": world, "microbatches": MICROBATCHES,
            "threads": 1, "steps": steps, **timing, **last}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["single", "pipeline"], required=True)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="single: intra-op threads (default: PyTorch's, every core)")
    args = parser.parse_args()
    if args.warmup >= args.steps:
        parser.error("--warmup must be below --steps")
    result = run_single(args.steps, args.warmup, args.threads) if args.mode == "single" else run_pipeline(args.steps, args.warmup)
    print(json.dumps({"torch": torch.__version__, "batch": BATCH, **result}))


if __name__ == "__main__":
    main()
