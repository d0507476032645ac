"""What the PyTorch twins of `scflow bench` share: the command line scflow
calls them with (--spec, --threads, --min-seconds), the timing estimator
scflow uses, and the JSON answer on stdout."""
import argparse
import json
import statistics
import time

import torch


def time_runs(fn, min_s, warmup=2, min_runs=5):
    """The timed runs' milliseconds, sorted: scflow's schedule (app/bench-util.c),
    at least min_runs runs and min_s seconds, at most 200, after warmup runs."""
    for _ in range(warmup):
        fn()
    samples = []
    start = time.perf_counter()
    while len(samples) < 200 and (len(samples) < min_runs or time.perf_counter() - start < min_s):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return sorted(samples)


def best_ms(fn, min_s, warmup=2, min_runs=5):
    """The fastest of the timed runs, as scflow reports (app/bench-util.h says why)."""
    return time_runs(fn, min_s, warmup, min_runs)[0]


def timing(fn, min_s, warmup=2, min_runs=5):
    """{"ms": fastest, "median_ms", "runs"}, as scflow's scf_bench_time."""
    samples = time_runs(fn, min_s, warmup, min_runs)
    return {"ms": samples[0], "median_ms": statistics.median(samples), "runs": len(samples)}


def run(measure_case):
    """Parses scflow's arguments, sets the threads, and prints
    [measure_case(case, min_seconds) for each case of the spec] as JSON."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--min-seconds", type=float, default=0.5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with open(args.spec, encoding="utf-8") as f:
        cases = json.load(f)
    print(json.dumps([measure_case(case, args.min_seconds) for case in cases]))
