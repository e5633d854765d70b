#!/usr/bin/env python3
"""Runs the shared PyTorch checker (torch_csv_check.py) on a CSV whatever its
placement, and on PyTorch 2.6 as well as newer versions.

What it changes, and only that:
- Placement. The shared checker builds _PipelineScheduleRuntime without
  `stage_index_to_group_rank`, so PyTorch assumes loop placement (stage s on
  rank s mod ranks). The wrapper hands over the map read from the CSV.
- Shape inference. PyTorch's runtime shape inference sends a stage's output
  shapes to the next *rank* (group_rank + 1) rather than to the rank of the
  next stage, so under V placement (stage 2p-1 on rank 0) the metadata lands
  on the wrong rank and gloo aborts. For such CSVs the stages get static
  shapes (input_args/output_args), PyTorch's documented bypass.
- Version. PyTorch 2.6 sums the microbatches' gradients and knows neither
  REDUCE_GRAD nor OVERLAP_F_B; there the wrapper divides the gradients by the
  microbatch count after the step, drops REDUCE_GRAD cells and runs the two
  halves of an overlap one after the other.

With TORCH_CSV_CHECK_LOG_DIR set (one folder per CSV), each rank also writes
there (r<rank>.*.txt) what the shared checker keeps only the last line of:
its full traceback, and the action list PyTorch will execute after loading
the CSV (with the sends and receives it added in compute_only format).

Usage: TORCH_CSV_CHECK_DIR=<dir with torch_csv_check.py> \
       [TORCH_CSV_CHECK_LOG_DIR=<dir>] \
         python3 torch_csv_check_placed.py SCHEDULE.csv [checker options]
"""
import csv
import inspect
import os
import re
import sys
import traceback

sys.path.insert(0, os.environ.get("TORCH_CSV_CHECK_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "tools")))
import torch_csv_check as base  # noqa: E402

_shared_worker = base.worker


def _reduce_grad_cell(cell):
    return cell.strip().endswith("REDUCE_GRAD")


def worker(rank, world, csv_path, fmt, n_micro, width, stage_rank, result_dir):
    from torch.distributed.pipelining import schedules

    runtime = schedules._PipelineScheduleRuntime
    original_init = runtime.__init__
    mapping = {int(s): int(r) for s, r in stage_rank.items()}
    takes_mapping = "stage_index_to_group_rank" in inspect.signature(original_init).parameters
    # Newer PyTorch (2.11) has the schedules average the microbatches' gradients
    # (scale_grads, applied by REDUCE_GRAD); 2.6 sums them and has no
    # REDUCE_GRAD action. There the wrapper divides by the microbatch count
    # after the step, the same uniform factor, so the order is still checked
    # action by action, and drops REDUCE_GRAD cells the loader cannot read.
    sums_gradients = "scale_grads" not in inspect.signature(schedules.PipelineScheduleMulti.__init__).parameters

    def init_with_placement(self, stages, *args, **kwargs):
        if takes_mapping:
            kwargs.setdefault("stage_index_to_group_rank", mapping)
        original_init(self, stages, *args, **kwargs)
        if not takes_mapping:
            self.stage_index_to_group_rank = mapping
            for stage in self._stages:
                stage.stage_index_to_group_rank = mapping

    runtime.__init__ = init_with_placement

    # PyTorch's runtime shape inference sends each stage's output shapes to
    # the rank after its own (group_rank + 1, loop placement) whatever the
    # stage-to-rank map says, so under V placement the metadata reaches the
    # wrong rank and gloo aborts on a size mismatch. PyTorch's documented
    # bypass is static shapes: input_args and output_args on every stage.
    # The shared checker's stages are Linear(width, width) + Tanh on
    # microbatches of 2 rows (it splits 2 * n_micro rows), so both are
    # [2, width].
    if any(r != s % world for s, r in mapping.items()):
        import torch
        import torch.distributed.pipelining as pipelining

        loop_placed_stage = pipelining.PipelineStage

        def stage_with_static_shapes(submodule, stage_index, num_stages, device, *args, **kwargs):
            shape = torch.empty(2, width, device="meta")
            kwargs.setdefault("input_args", (shape,))
            kwargs.setdefault("output_args", (shape,))
            return loop_placed_stage(submodule, stage_index, num_stages, device, *args, **kwargs)

        pipelining.PipelineStage = stage_with_static_shapes

    log_dir = os.environ.get("TORCH_CSV_CHECK_LOG_DIR")
    log_prefix = os.path.join(log_dir, f"r{rank}") if log_dir else None
    original_load = runtime._load_csv

    # PyTorch 2.6 has no OVERLAP_F_B action either: its two halves run
    # one after the other, which is what the overlap means on one stream.
    runs_overlaps = hasattr(schedules._ComputationType, "OVERLAP_F_B")

    def adapt(cell):
        cell = cell.strip()
        if sums_gradients and _reduce_grad_cell(cell):
            return []
        overlap = re.fullmatch(r"\((.*)\)OVERLAP_F_B", cell)
        if overlap and not runs_overlaps:
            return [part.strip() for part in overlap.group(1).split(";")]
        return [cell]

    def load(self, filename, format="compute_only"):
        if sums_gradients or not runs_overlaps:
            with open(filename, newline="") as source:
                rows = [[part for cell in row for part in adapt(cell)] for row in csv.reader(source)]
            filename = os.path.join(result_dir, f"adapted.r{rank}.csv")
            with open(filename, "w", newline="") as target:
                csv.writer(target).writerows(rows)
        original_load(self, filename, format=format)
        if log_prefix:
            order = getattr(self, "pipeline_order_with_comms", None) or getattr(self, "pipeline_order", {})
            with open(f"{log_prefix}.actions.txt", "w") as out:
                out.write(f"stage_index_to_group_rank={getattr(self, 'stage_index_to_group_rank', None)}\n")
                out.write(" ".join(str(a) for a in order.get(rank, [])) + "\n")

    runtime._load_csv = load

    if sums_gradients:
        original_step = runtime.step

        def step_then_average(self, *args, **kwargs):
            result = original_step(self, *args, **kwargs)
            for stage in self._stages:
                for parameter in stage.submod.parameters():
                    if parameter.grad is not None:
                        parameter.grad.div_(self._n_microbatches)
            return result

        runtime.step = step_then_average

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
