#!/usr/bin/env python3
"""PyTorch's own communication lowering of compute-only schedule CSVs.

Runs exactly the passes _PipelineScheduleRuntime._prepare_schedule_with_comms
runs on a compute_only CSV (torch.distributed.pipelining.schedules:
_add_unshard_reshard, _add_reduce_grad, then _add_send_recv with the
stage-to-rank map read from the rows) and writes the result as a
compute_comms CSV, so pipec can import it and compare it with its own
lowering (bench/comms.ts, test/lower/comms.test.ts). No process group is
needed: these passes are pure functions of the order.

Usage: torch_add_send_recv.py IN.csv OUT.csv [IN.csv OUT.csv ...]
       torch_add_send_recv.py --batch JOBS.jsonl   ({"in": PATH, "out": PATH} a line)
Prints one JSON line per file: {"in", "out", "torch", "ok"[, "error"]}.
"""
import csv, json, sys


def lower(path_in, path_out, schedules):
    with open(path_in, newline="") as handle:
        rows = [[schedules._Action.from_str(cell) for cell in row] for row in csv.reader(handle)]
    actions = {rank: [a for a in row if a is not None] for rank, row in enumerate(rows)}
    stage_to_rank = {}
    microbatches = set()
    for rank, row in actions.items():
        for action in row:
            for part in (action.sub_actions or (action,)):
                stage_to_rank[part.stage_index] = rank
                if part.computation_type == schedules.F and part.stage_index == 0:
                    microbatches.add(part.microbatch_index)
    lowered = {}
    for rank in actions:
        lowered[rank] = schedules._add_unshard_reshard(actions[rank])
        lowered[rank] = schedules._add_reduce_grad(lowered[rank], len(microbatches))
    lowered = schedules._add_send_recv(lowered, stage_to_rank=lambda s: stage_to_rank[s], num_stages=len(stage_to_rank))
    with open(path_out, "w", newline="") as handle:
        writer = csv.writer(handle)
        for rank in sorted(lowered):
            writer.writerow([str(action) for action in lowered[rank]])


def main():
    import torch
    from torch.distributed.pipelining import schedules
    args = sys.argv[1:]
    if args[:1] == ["--batch"]:
        with open(args[1]) as handle:
            jobs = [json.loads(line) for line in handle if line.strip()]
        pairs = [(job["in"], job["out"]) for job in jobs]
    else:
        pairs = list(zip(args[0::2], args[1::2]))
    failed = False
    for path_in, path_out in pairs:
        result = {"in": path_in, "out": path_out, "torch": torch.__version__}
        try:
            lower(path_in, path_out, schedules)
            result["ok"] = True
        except Exception as error:  # a malformed order: say so and go on
            result["ok"] = False
            result["error"] = f"{type(error).__name__}: {error}"
            failed = True
        print(json.dumps(result), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
