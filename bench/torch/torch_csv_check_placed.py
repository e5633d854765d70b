#!/usr/bin/env python3
"""Runs the shared PyTorch checker (torch_csv_check.py) with the CSV's own
stage-to-rank placement handed to PyTorch's runtime.

The shared checker builds _PipelineScheduleRuntime without
`stage_index_to_group_rank`, so PyTorch assumes loop placement (stage s on
rank s mod ranks). A V-placed order (stage 2p-1 on rank 0) then sends to
the wrong ranks and every rank dies with a closed gloo connection. This
wrapper changes only that: the mapping read from the CSV (the checker's own
parse_csv) is passed to the runtime. Everything else is the shared checker.

With TORCH_CSV_CHECK_LOG_DIR set (one folder per CSV), each rank also
writes there (r<rank>.*.txt) what the
shared checker keeps only the last line of: its full traceback, and the
action list PyTorch will execute after loading the CSV (with the sends and
receives it added in compute_only format), so a failure can be traced to
the action that caused it.

Usage: TORCH_CSV_CHECK_DIR=<dir with torch_csv_check.py> \
       [TORCH_CSV_CHECK_LOG_DIR=<dir>] \
         python3 torch_csv_check_placed.py SCHEDULE.csv [checker options]
"""
import inspect
import os
import sys
import traceback

sys.path.insert(0, os.environ.get("TORCH_CSV_CHECK_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "tools")))
import torch_csv_check as base  # noqa: E402

_shared_worker = base.worker


def worker(rank, world, csv_path, fmt, n_micro, width, stage_rank, result_dir):
    from torch.distributed.pipelining import schedules

    runtime = schedules._PipelineScheduleRuntime
    original_init = runtime.__init__
    mapping = {int(s): int(r) for s, r in stage_rank.items()}
    takes_mapping = "stage_index_to_group_rank" in inspect.signature(original_init).parameters

    def init_with_placement(self, stages, *args, **kwargs):
        if takes_mapping:
            kwargs.setdefault("stage_index_to_group_rank", mapping)
        original_init(self, stages, *args, **kwargs)
        if not takes_mapping:
            self.stage_index_to_group_rank = mapping
            for stage in self._stages:
                stage.stage_index_to_group_rank = mapping

    runtime.__init__ = init_with_placement

    log_dir = os.environ.get("TORCH_CSV_CHECK_LOG_DIR")
    log_prefix = os.path.join(log_dir, f"r{rank}") if log_dir else None
    if log_prefix:
        original_load = runtime._load_csv

        def load_and_dump(self, filename, format="compute_only"):
            original_load(self, filename, format=format)
            order = getattr(self, "pipeline_order_with_comms", None) or getattr(self, "pipeline_order", {})
            with open(f"{log_prefix}.actions.txt", "w") as out:
                out.write(f"stage_index_to_group_rank={getattr(self, 'stage_index_to_group_rank', None)}\n")
                out.write(" ".join(str(a) for a in order.get(rank, [])) + "\n")

        runtime._load_csv = load_and_dump
    try:
        _shared_worker(rank, world, csv_path, fmt, n_micro, width, stage_rank, result_dir)
    except BaseException:
        if log_prefix:
            with open(f"{log_prefix}.traceback.txt", "w") as out:
                out.write(traceback.format_exc())
        raise


base.worker = worker

if __name__ == "__main__":
    sys.exit(base.main())
