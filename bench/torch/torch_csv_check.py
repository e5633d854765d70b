#!/usr/bin/env python3
"""Run a pipeline schedule CSV on PyTorch's own pipeline runtime and check it
against plain single-process training.

Origin: the project's shared tool torch_csv_check.py (shared/tools/, beside
the project's own checkout), copied here so that a clone and CI can run it.
Folded in since: the adaptations of the former wrapper
bench/torch/torch_csv_check_placed.py (stage-to-rank map, static shapes,
PyTorch 2.6's summed gradients), and a batch mode that runs many CSVs in one
process group so that torch is imported once per rank, not once per CSV.

The CSV is PyTorch's schedule format (torch.distributed.pipelining,
_PipelineScheduleRuntime._load_csv): one row per rank, one cell per step,
each cell an action such as 0F3 (stage 0 forward of microbatch 3), 1B2
(full backward), 1I2 / 1W2 (backward for inputs / for weights), or empty.
Format 'compute_only' (default) lets PyTorch add the send/recv actions;
'compute_comms' runs the CSV exactly as written.

Usage: torch_csv_check.py SCHEDULE.csv [SCHEDULE.csv ...]
                          [--format compute_only|compute_comms]
                          [--microbatches M] [--width 16]
       torch_csv_check.py --batch JOBS.jsonl [--width 16]
           (one JSON object a line: {"csv": PATH, "format": FORMAT})
Needs PyTorch >= 2.6 with torch.distributed (gloo). Runs one process per rank
on the CPU; CSVs with the same rank count share one process group, one group
at a time. Prints one JSON line per CSV; exit 0 only when every stage's
gradients match the single-process reference for every CSV. When a CSV fails,
its group is torn down and the CSVs after it run in a fresh group.

What it adapts to the PyTorch version, detected by feature:
- Placement. PyTorch >= 2.11 (at least 2.13) reads the stage-to-rank map from
  the CSV itself (_validate_and_set_stage_mapping); on older versions the
  map read from the CSV is handed to the schedule and its stages.
- Shape inference. Before PyTorch's placement-aware metadata inference
  (torch.distributed.pipelining._utils.InferenceMode, present in 2.13), the
  runtime sent a stage's output shapes to rank group_rank + 1 whatever the
  placement, so a V-placed CSV (stage 2p-1 on rank 0) aborted in gloo. There
  every stage of a V-placed CSV gets static shapes (input_args/output_args),
  PyTorch's documented bypass. --static-shapes on|off overrides the choice.
- Gradient scale. PyTorch 2.6 sums the microbatches' gradients (no
  scale_grads) and knows neither REDUCE_GRAD nor OVERLAP_F_B: there the
  gradients are divided by the microbatch count after the step, REDUCE_GRAD
  cells are dropped and the halves of an overlap run one after the other.
"""
import argparse, csv, json, os, re, socket, sys, tempfile, traceback

def capabilities():
    """What this PyTorch's pipelining runtime does by itself."""
    import inspect
    from torch.distributed.pipelining import schedules, _utils
    runtime = schedules._PipelineScheduleRuntime
    return {
        "torch": __import__("torch").__version__,
        "csv_sets_placement": hasattr(runtime, "_validate_and_set_stage_mapping"),
        "init_takes_placement": "stage_index_to_group_rank" in inspect.signature(runtime.__init__).parameters,
        "placement_aware_shapes": hasattr(_utils, "InferenceMode"),
        "scales_grads": "scale_grads" in inspect.signature(schedules.PipelineScheduleMulti.__init__).parameters,
        "overlap_f_b": hasattr(schedules._ComputationType, "OVERLAP_F_B"),
    }

def normalize(path, fmt, caps, out_dir):
    """Rewrite a CSV for PyTorch's loader. compute_only: drop REDUCE_GRAD (the
    runtime adds its own) and expand (a;b)OVERLAP_F_B into a, b, as the shared
    checker did. compute_comms: only what this version cannot read."""
    drop_reduce = fmt == "compute_only" or not caps["scales_grads"]
    split_overlap = fmt == "compute_only" or not caps["overlap_f_b"]
    rows = []
    for row in csv.reader(open(path, newline="")):
        out = []
        for cell in row:
            cell = cell.strip()
            m = re.fullmatch(r"\((.*)\)OVERLAP_F_B", cell)
            if m and split_overlap:
                out.extend(x.strip() for x in m.group(1).split(";"))
            elif not (drop_reduce and cell.endswith("REDUCE_GRAD")):
                out.append(cell)
        rows.append(out)
    fd, tmp = tempfile.mkstemp(suffix=".csv", dir=out_dir)
    with os.fdopen(fd, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return tmp

def parse_csv(path):
    rows = list(csv.reader(open(path, newline="")))
    stage_rank, mbs = {}, set()
    for rank, row in enumerate(rows):
        for cell in row:
            for m in re.finditer(r"(\d+)(F|I|W|B|SEND_F|RECV_F|SEND_B|RECV_B)(\d+)", cell):
                s, mb = int(m.group(1)), int(m.group(3))
                if m.group(2) in ("F", "I", "W", "B"):
                    stage_rank.setdefault(s, rank)
                    mbs.add(mb)
    return len(rows), stage_rank, (max(mbs) + 1 if mbs else 0)

def build_model(n_stages, width, seed=0):
    import torch
    torch.manual_seed(seed)
    return [torch.nn.Sequential(torch.nn.Linear(width, width), torch.nn.Tanh()) for _ in range(n_stages)]

def batch(n_micro, width):
    """Inputs and targets: 2 rows per microbatch."""
    import torch
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n_micro * 2, width, generator=g)
    y = torch.randn(n_micro * 2, width, generator=g)
    return x, y

def run_job(rank, world, job, width, caps, result_dir, index):
    import torch
    from torch.distributed.pipelining import PipelineStage
    from torch.distributed.pipelining.schedules import _PipelineScheduleRuntime
    stage_rank, n_micro = {int(s): r for s, r in job["stage_rank"].items()}, job["microbatches"]
    n_stages = len(stage_rank)
    layers = build_model(n_stages, width)
    mine = sorted(s for s, r in stage_rank.items() if r == rank)
    v_placed = any(r != s % world for s, r in stage_rank.items())
    static = job["static_shapes"] == "on" or (job["static_shapes"] == "auto" and v_placed and not caps["placement_aware_shapes"])
    if static:
        # The stages are Linear(width, width) + Tanh on microbatches of 2 rows.
        # A received activation needs a gradient (2.13 reads requires_grad
        # from input_args; 2.6 ignores it).
        def shape(s):
            return {"input_args": (torch.empty(2, width, device="meta", requires_grad=s > 0),),
                    "output_args": (torch.empty(2, width, device="meta"),),
                    **({"output_grads": (torch.empty(2, width, device="meta"),),
                        "input_grads": (torch.empty(2, width, device="meta") if s > 0 else None,)}
                       if caps["placement_aware_shapes"] else {})}
    else:
        shape = lambda s: {}
    stages = [PipelineStage(layers[s], s, n_stages, torch.device("cpu"), **shape(s)) for s in mine]
    loss_fn = lambda out, tgt: torch.nn.functional.mse_loss(out, tgt)
    kwargs = {}
    if not caps["csv_sets_placement"] and caps["init_takes_placement"]:
        kwargs["stage_index_to_group_rank"] = stage_rank
    sched = _PipelineScheduleRuntime(stages, n_microbatches=n_micro, loss_fn=loss_fn, **kwargs)
    if not caps["csv_sets_placement"] and not caps["init_takes_placement"]:
        sched.stage_index_to_group_rank = stage_rank
        for stage in sched._stages:
            stage.stage_index_to_group_rank = stage_rank
    sched._load_csv(job["path"], format=job["format"])
    x, y = batch(n_micro, width)
    losses = []
    sched.step(x, target=y, losses=losses)
    if not caps["scales_grads"]:
        for s in mine:
            for p in layers[s].parameters():
                if p.grad is not None:
                    p.grad.div_(n_micro)
    grads = {s: [p.grad.detach().clone() for p in layers[s].parameters()] for s in mine}
    torch.save({"grads": grads}, os.path.join(result_dir, f"job{index}.r{rank}.pt"))

def worker(rank, world, jobs, width, result_dir, timeout_s):
    import datetime
    import torch.distributed as dist
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=timeout_s))
    try:
        caps = capabilities()
        for index, job in jobs:
            try:
                run_job(rank, world, job, width, caps, result_dir, index)
            except Exception:
                open(os.path.join(result_dir, f"job{index}.r{rank}.err"), "w").write(traceback.format_exc())
                raise
    finally:
        dist.destroy_process_group()

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def reference_grads(n_stages, n_micro, width):
    import torch
    layers = build_model(n_stages, width)
    x, y = batch(n_micro, width)
    for xm, ym in zip(x.chunk(n_micro), y.chunk(n_micro)):
        h = xm
        for l in layers: h = l(h)
        (torch.nn.functional.mse_loss(h, ym) / n_micro).backward()
    return [[p.grad for p in l.parameters()] for l in layers]

def evaluate(job, world, width, d, index, tolerance):
    import torch
    ref = reference_grads(len(job["stage_rank"]), job["microbatches"], width)
    worst = 0.0
    for r in range(world):
        res = torch.load(os.path.join(d, f"job{index}.r{r}.pt"))
        for s, gs in res["grads"].items():
            for gp, rp in zip(gs, ref[s]):
                worst = max(worst, float((gp - rp).norm() / (rp.norm() + 1e-30)))
    return {"ok": worst < tolerance, "ranks": world, "stages": len(job["stage_rank"]),
            "microbatches": job["microbatches"], "worst_rel_grad_err": worst}

def last_error(trace):
    """The exception line(s) of a traceback, its message's continuation lines included."""
    lines = trace.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if re.match(r"[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)?: ", lines[i]) or re.fullmatch(r"[A-Za-z_][\w.]*Error", lines[i]):
            return re.sub(r"\s+", " ", " ".join(lines[i:]))[:600]
    return lines[-1][:600] if lines else "?"

def run_group(world, jobs, width, timeout_s, tolerance, d, emit, log_dir=None):
    """Runs jobs [(index, job)] in process groups of `world` ranks, one group
    at a time; a failure ends its group and the rest run in a new one."""
    import torch.multiprocessing as mp
    pending = list(jobs)
    while pending:
        os.environ["MASTER_ADDR"] = "127.0.0.1"
        os.environ["MASTER_PORT"] = str(free_port())
        failure = None
        try:
            mp.spawn(worker, args=(world, pending, width, d, timeout_s), nprocs=world, join=True)
        except Exception as e:
            failure = e
        rest = []
        for position, (index, job) in enumerate(pending):
            done = all(os.path.exists(os.path.join(d, f"job{index}.r{r}.pt")) for r in range(world))
            if done:
                emit(index, evaluate(job, world, width, d, index, tolerance))
                continue
            traces = [open(os.path.join(d, f)).read().strip()
                      for f in sorted(os.listdir(d)) if f.startswith(f"job{index}.r") and f.endswith(".err")]
            if log_dir and traces:
                os.makedirs(log_dir, exist_ok=True)
                name = re.sub(r"[^\w.-]", "_", os.path.basename(str(job["csv"])))
                with open(os.path.join(log_dir, f"{index}.{name}.{job['format']}.traceback.txt"), "w") as out:
                    out.write("\n\n".join(traces) + "\n")
            errs = list(dict.fromkeys(last_error(t) for t in traces))
            root = [e for e in errs if "gloo" not in e and "Connection" not in e]
            errs = root or errs
            emit(index, {"ok": False, "ranks": world, "error": errs or [repr(failure)[:300]]})
            rest = pending[position + 1:]
            break
        pending = rest

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv", nargs="*")
    ap.add_argument("--format", default="compute_only", choices=["compute_only", "compute_comms"])
    ap.add_argument("--batch", help="JSON lines, each {\"csv\": PATH, \"format\": FORMAT}")
    ap.add_argument("--microbatches", type=int, default=0)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--static-shapes", default="auto", choices=["auto", "on", "off"])
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--log-dir", help="write each failed CSV's per-rank tracebacks there")
    ap.add_argument("--timeout", type=float, default=120, help="seconds a rank waits on a peer")
    a = ap.parse_args()
    specs = [{"csv": c, "format": a.format} for c in a.csv]
    if a.batch:
        specs += [json.loads(line) for line in open(a.batch) if line.strip()]
    if not specs:
        ap.error("no CSV given")
    caps = capabilities()
    results = [None] * len(specs)

    def emit(index, result):
        result = {"csv": specs[index]["csv"], "format": specs[index].get("format", "compute_only"), **result, "torch": caps["torch"]}
        results[index] = result
        print(json.dumps(result), flush=True)

    with tempfile.TemporaryDirectory() as d:
        groups = {}
        for index, spec in enumerate(specs):
            fmt = spec.get("format", "compute_only")
            try:
                path = normalize(spec["csv"], fmt, caps, d)
                world, stage_rank, n_micro = parse_csv(path)
            except Exception as e:
                emit(index, {"ok": False, "error": [f"unreadable CSV: {e}"]})
                continue
            job = {"csv": spec["csv"], "path": path, "format": fmt, "stage_rank": stage_rank,
                   "microbatches": spec.get("microbatches") or a.microbatches or n_micro,
                   "static_shapes": spec.get("static_shapes", a.static_shapes)}
            groups.setdefault(world, []).append((index, job))
        for world, jobs in groups.items():
            run_group(world, jobs, a.width, a.timeout, a.tolerance, d, emit, a.log_dir)
    return 0 if all(r and r["ok"] for r in results) else 1

if __name__ == "__main__":
    sys.exit(main())
