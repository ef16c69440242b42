"""`python -m bench.profiled --output FILE -m bridge ARGS`: run a module with cProfile switched on and off by signals.

SIGUSR1 starts profiling the main thread (where the event loop runs), SIGUSR2
stops it and writes the stats to FILE, so start-up and warm-up stay out of the
profile.  Times are the thread's CPU time, not wall time.  `bench.hotspots` drives it.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import runpy
import signal
import sys
import time
from types import FrameType


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profiled")
    parser.add_argument("--output", required=True, help="where SIGUSR2 writes the stats (pstats format)")
    parser.add_argument("-m", dest="module", required=True, help="the module to run, then its arguments")
    args, rest = parser.parse_known_args(argv)
    profiler = cProfile.Profile(time.thread_time)  # CPU time: waiting in epoll, or preempted, is not counted

    def start(_signum: int, _frame: FrameType | None) -> None:
        profiler.enable()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        profiler.disable()
        profiler.dump_stats(args.output + ".part")
        os.replace(args.output + ".part", args.output)  # whole, or not there yet

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    sys.argv = [args.module, *rest]
    runpy.run_module(args.module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
