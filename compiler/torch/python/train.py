"""Train the exported pipeline on torch.distributed.pipelining.

Written by `pipec export FILE.pipe --torch DIR`; run it with torchrun, one
process per pipeline rank (README.md beside it has the lines):

    torchrun --nproc-per-node R train.py [--steps N] [--dump-grads FILE]

Each rank builds its stages (model.py), loads pipec's initial weights
(weights.safetensors), and runs pipec's schedule (schedule.csv, PyTorch's
compute_comms format, read by _PipelineScheduleRuntime) on pipec's batches
(data.safetensors, in pipec's order). Rank 0 prints one JSON line per step,
{"step": k, "loss": ...}, step 0 first: the `losses[k]` of `pipec train --json`.
gloo on the CPU; NCCL on the GPUs when torch.cuda.is_available() and there
is a GPU for each process on the host.
"""
import argparse
import csv
import datetime
import inspect
import json
import os
import re
import sys
import tempfile

import numpy as np
import torch
import torch.distributed as dist
from torch.distributed.pipelining import PipelineStage, _utils, schedules
from torch.distributed.pipelining.schedules import _PipelineScheduleRuntime

import model
from pipec_torch import BatchFeed, PipecOptimizer, loss_function, pipec_parameters, read_safetensors, write_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
TORCH_DTYPES = {"f32": torch.float32, "i32": torch.int32}


def capabilities():
    """What this PyTorch's pipelining runtime does by itself (detected by feature, not version)."""
    runtime = schedules._PipelineScheduleRuntime
    return {
        "csv_sets_placement": hasattr(runtime, "_validate_and_set_stage_mapping"),
        "init_takes_placement": "stage_index_to_group_rank" in inspect.signature(runtime.__init__).parameters,
        "placement_aware_shapes": hasattr(_utils, "InferenceMode"),
        "scales_grads": "scale_grads" in inspect.signature(schedules.PipelineScheduleMulti.__init__).parameters,
        "overlap_f_b": hasattr(schedules._ComputationType, "OVERLAP_F_B"),
    }


def readable_csv(path, caps, out_dir):
    """schedule.csv as this PyTorch reads it: before REDUCE_GRAD and OVERLAP_F_B
    existed (2.6), drop the former and run an overlap's halves in turn."""
    if caps["scales_grads"] and caps["overlap_f_b"]:
        return path
    rows = []
    for row in csv.reader(open(path, newline="")):
        cells = []
        for cell in row:
            overlap = re.fullmatch(r"\((.*)\)OVERLAP_F_B", cell.strip())
            if overlap:
                cells.extend(part.strip() for part in overlap.group(1).split(";"))
            elif not cell.strip().endswith("REDUCE_GRAD"):
                cells.append(cell)
        rows.append(cells)
    fd, rewritten = tempfile.mkstemp(suffix=".csv", dir=out_dir)
    with os.fdopen(fd, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return rewritten


class ProgramStage(PipelineStage):
    """A PipelineStage that tells its module which step and microbatch it runs,
    so dropout draws pipec's masks."""

    def __init__(self, module, *args, first_example, microbatch_size, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.pipec_module, self.first_example, self.microbatch_size, self.pipec_step = module, first_example, microbatch_size, 0

    def forward_one_chunk(self, fwd_chunk_id, *args, **kwargs):
        self.pipec_module.context.step = self.pipec_step
        self.pipec_module.context.example_offset = self.first_example + fwd_chunk_id * self.microbatch_size
        return super().forward_one_chunk(fwd_chunk_id, *args, **kwargs)


def static_shapes(stage, microbatch_size, caps, first):
    """Every stage's shapes given up front, so no shape inference runs: PyTorch
    before 2.13 sent a stage's shapes to rank group_rank + 1 whatever the
    stage → rank map, which breaks V-placed schedules."""
    def meta(shape, dtype, grad=False):
        return torch.empty([microbatch_size, *shape], dtype=TORCH_DTYPES[dtype], device="meta", requires_grad=grad)
    differentiable = not first and stage["inputDtype"] == "f32"
    shapes = {
        "input_args": (meta(stage["inputShape"], stage["inputDtype"], differentiable),),
        "output_args": (meta(stage["outputShape"], stage["outputDtype"]),),
    }
    if caps["placement_aware_shapes"]:
        shapes["output_grads"] = (meta(stage["outputShape"], stage["outputDtype"]),)
        shapes["input_grads"] = (meta(stage["inputShape"], stage["inputDtype"]) if differentiable else None,)
    return shapes


def main():
    program = json.load(open(os.path.join(HERE, "program.json")))
    parser = argparse.ArgumentParser(description=f"train pipec's pipeline '{program['pipeline']}' on torch.distributed.pipelining")
    parser.add_argument("--steps", type=int, default=program["steps"], help=f"optimizer steps (default {program['steps']})")
    parser.add_argument("--dump-grads", metavar="FILE", help="write the first step's gradients (before the optimizer) to FILE, safetensors under pipec's parameter names")
    parser.add_argument("--timeout", type=float, default=300, help="seconds a rank waits on a peer")
    options = parser.parse_args()
    if options.steps < 1:
        parser.error("--steps needs a positive integer")

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    # NCCL takes one GPU per process; with fewer GPUs than local processes, gloo on the CPU.
    cuda = torch.cuda.is_available() and torch.cuda.device_count() >= local_processes
    if torch.cuda.is_available() and not cuda and local_rank == 0:
        print(f"train.py: {torch.cuda.device_count()} GPU(s) for {local_processes} local processes; running on the CPU with gloo", file=sys.stderr)
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(seconds=options.timeout))
    rank, world = dist.get_rank(), dist.get_world_size()
    processes = program["ranks"] * program["replicas"]
    if world != processes:
        if rank == 0:
            print(f"train.py: the pipeline has {program['ranks']} ranks × {program['replicas']} replica(s); start it with {processes} processes in all "
                  f"(torchrun --nproc-per-node {processes}), not {world}", file=sys.stderr)
        dist.destroy_process_group()
        return 2
    try:
        return train(program, options, rank, device)
    finally:
        dist.destroy_process_group()


def train(program, options, rank, device):
    caps = capabilities()
    stage_rank = {stage["index"]: stage["rank"] for stage in program["stages"]}
    n_stages = len(program["stages"])
    # Data-parallel replicas, as pipec lays them out: process replica·ranks + d
    # is pipeline rank d of its replica. Every process makes every group, in one order.
    ranks, replicas, microbatches, microbatch_size = program["ranks"], program["replicas"], program["microbatches"], program["microbatchSize"]
    replica, pipeline_rank = divmod(rank, ranks)
    pipeline_group = replica_group = None
    if replicas > 1:
        pipeline_groups = [dist.new_group(list(range(r * ranks, (r + 1) * ranks))) for r in range(replicas)]
        replica_groups = [dist.new_group([r * ranks + d for r in range(replicas)]) for d in range(ranks)]
        pipeline_group, replica_group = pipeline_groups[replica], replica_groups[pipeline_rank]
    last_stage_here = stage_rank[n_stages - 1] == pipeline_rank
    mine = [stage for stage in program["stages"] if stage["rank"] == pipeline_rank]
    weights = read_safetensors(os.path.join(HERE, "weights.safetensors"))
    modules, stages, parameters = [], [], {}
    for stage in mine:
        module = model.STAGES[stage["index"]]()
        named = pipec_parameters(module)
        missing = sorted(set(named) - set(weights))
        if missing:
            raise SystemExit(f"weights.safetensors lacks {missing}")
        with torch.no_grad():
            for name, parameter in named.items():
                parameter.copy_(torch.from_numpy(weights[name]))
        module.to(device)
        parameters.update(named)
        modules.append(module)
        stages.append(ProgramStage(module, stage["index"], n_stages, device, group=pipeline_group,
                                   first_example=replica * microbatches * microbatch_size, microbatch_size=microbatch_size,
                                   **static_shapes(stage, microbatch_size, caps, stage["index"] == 0)))

    kwargs = {}
    if not caps["csv_sets_placement"] and caps["init_takes_placement"]:
        kwargs["stage_index_to_group_rank"] = stage_rank
    schedule = _PipelineScheduleRuntime(stages, n_microbatches=microbatches, loss_fn=loss_function(program["loss"]), **kwargs)
    if not caps["csv_sets_placement"] and not caps["init_takes_placement"]:
        schedule.stage_index_to_group_rank = stage_rank
        for stage in schedule._stages:
            stage.stage_index_to_group_rank = stage_rank
    with tempfile.TemporaryDirectory() as scratch:
        schedule._load_csv(readable_csv(os.path.join(HERE, "schedule.csv"), caps, scratch), format="compute_comms")

    feed = BatchFeed(os.path.join(HERE, "data.safetensors"), program)
    optimizer = PipecOptimizer(program["optimizer"], parameters.values())
    for step in range(options.steps):
        for stage in stages:
            stage.pipec_step = step
        x, y = feed.step(step)
        # This replica's share of the step's batch: microbatches [replica·m, (replica + 1)·m).
        share = slice(replica * microbatches * microbatch_size, (replica + 1) * microbatches * microbatch_size)
        x = torch.from_numpy(x[share]).to(device)
        y = torch.from_numpy(y[share]).to(device)
        losses = []
        schedule.step(x, target=y, losses=losses)
        if not caps["scales_grads"]:  # PyTorch 2.6 sums the microbatches' gradients; pipec averages them
            for parameter in parameters.values():
                if parameter.grad is not None:
                    parameter.grad.div_(microbatches)
        if replicas > 1:  # pipec averages the replicas' gradients (its allreduce)
            for parameter in parameters.values():
                if parameter.grad is None:
                    parameter.grad = torch.zeros_like(parameter)
                dist.all_reduce(parameter.grad, group=replica_group)
                parameter.grad.div_(replicas)
        if options.dump_grads and step == 0:
            dump_gradients(options.dump_grads, parameters, rank)
        optimizer.step()
        optimizer.zero_grad()
        # Each replica's loss, the mean over its microbatches, lives on its last stage's
        # process; the step's loss is their mean, as pipec reports it.
        loss = torch.zeros((), dtype=torch.float64, device=device)
        if last_stage_here:
            loss += sum(float(l.detach()) for l in losses) / microbatches
        dist.all_reduce(loss)
        loss /= replicas
        if rank == 0:
            print(json.dumps({"step": step, "loss": float(loss)}), flush=True)
    return 0


def dump_gradients(path, parameters, rank):
    """Gathers every rank's gradients to rank 0, which writes them."""
    local = {name: (p.grad.detach().cpu().numpy() if p.grad is not None else np.zeros(tuple(p.shape), np.float32)) for name, p in parameters.items()}
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, local)
    if rank == 0:
        write_safetensors(path, {name: grad for part in gathered for name, grad in part.items()})


if __name__ == "__main__":
    sys.exit(main())
