"""Slowdown under load: the wall time of one training workload (a MobileNetV2 trained for a few batches, as an
expert epoch does) on an otherwise idle machine and with one competing CPU-bound process (`while True: pass`), at
each torch thread count and OpenMP wait policy: 'default' (OMP_WAIT_POLICY unset: OpenMP spins a while before
sleeping), 'moede' (unset, but moede imported before torch, which makes it PASSIVE: moede.threads), or as given.
A machine shared by two should cost about
2x; far more means oversubscribed threads. Each setting runs in a fresh process (OpenMP reads its environment once).
Usage: python benchmarks/bench_load.py [--batches 6] [--size 96] [--threads 1 2] [--policies default moede]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

WORKLOAD = """
{first}
import time, torch, torchvision
torch.set_num_threads({threads})
torch.manual_seed(0)
model = torchvision.models.mobilenet_v2(weights=None, num_classes=2)
optimiser = torch.optim.Adam(model.parameters(), 1e-3)
x, y = torch.randn(32, 3, {size}, {size}), torch.randint(0, 2, (32,))
def step():
    optimiser.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    optimiser.step()
step()
began = time.perf_counter()
for _ in range({batches}):
    step()
print(time.perf_counter() - began)
"""


def timed(threads: int, policy: str, args: argparse.Namespace) -> float:
    """Seconds of the workload in a fresh process with `threads` torch threads and OMP_WAIT_POLICY `policy`
    ('default': unset, OpenMP's own; 'moede': unset, moede imported before torch, as the package runs)."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy not in ("default", "moede"):
        env["OMP_WAIT_POLICY"] = policy
    code = WORKLOAD.format(first="import moede" if policy == "moede" else "", threads=threads, size=args.size,
                           batches=args.batches)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, len(os.sched_getaffinity(0))])
    parser.add_argument("--policies", nargs="+", default=["default", "moede"],
                        choices=["default", "moede", "PASSIVE", "ACTIVE"])
    args = parser.parse_args()
    print(f"{args.batches} training batches of 32 at {args.size} px; {len(os.sched_getaffinity(0))} CPUs; load "
          f"average at start {os.getloadavg()[0]:.1f}")
    for policy in args.policies:
        for threads in args.threads:
            idle = timed(threads, policy, args)
            rival = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                time.sleep(0.5)
                loaded = timed(threads, policy, args)
            finally:
                rival.kill()
                rival.wait()
            print(f"threads {threads}, OMP_WAIT_POLICY {policy:8s}: idle {idle:6.2f} s, with one "
                  f"competing process {loaded:6.2f} s ({loaded / idle:.1f}x)")


if __name__ == "__main__":
    main()
