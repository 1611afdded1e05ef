"""The benchmarks' profiler: with its switch set in the environment (e.g.
BENCH_FINANCE_PROFILE=1), a step prints cProfile's top functions and, if asked,
its slowest SQL statements. Off, it costs nothing."""

import contextlib
import cProfile
import io
import os
import pstats


@contextlib.contextmanager
def profiled(label: str, *, switch: str, statements: bool = False):
    if not os.environ.get(switch):
        yield
        return
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    profile = cProfile.Profile()
    with CaptureQueriesContext(connection) as queries:
        profile.enable()
        try:
            yield
        finally:
            profile.disable()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(15)
    print(f"--- profile: {label}\n" + out.getvalue())
    if statements:
        slow = sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:8]
        print(f"--- {label}: slowest of {len(queries)} SQL statements "
              "(streamed reads are not listed: see stream_rows in the profile)\n"
              + "\n".join(f"{float(q['time']):8.2f} s  {q['sql'][:400]}" for q in slow))


# Memory (Linux), for the sections that show memory is flat ------------------------

def status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (the peak) of this process, from /proc/self/status (Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def reset_peak_rss() -> bool:
    """Linux: writing 5 to clear_refs sets the peak (VmHWM) back to the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False
