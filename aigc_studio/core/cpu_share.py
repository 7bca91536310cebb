"""Leave the GUI its share of the CPU while the engine works: fewer torch threads, a lower thread priority.

With as many torch threads as cores, a CPU job keeps every core busy and the
GUI thread waits for the scheduler (stalls of 70-90 ms on 2 cores). The
engine thread therefore runs one torch thread fewer than there are cores and
at a lower priority; the threads torch starts from it inherit that priority.
"""

from __future__ import annotations

import os
import sys
import threading

ENGINE_NICE_STEPS = 5  # added to the engine thread's nice value (Linux); 19 is the lowest priority
PROGRESS_INTERVAL_S = 0.04  # at most 25 progress reports a second reach the GUI (previews always do)


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads_beside_a_gui(current: int, cpus: int | None = None, environ: dict[str, str] | None = None) -> int:
    """torch threads for an engine that shares the machine with a window: one core is left for the GUI.

    ``current`` is torch's own choice (kept when it is already lower); an explicit
    ``OMP_NUM_THREADS`` is the user's and is kept as it is.
    """
    env = os.environ if environ is None else environ
    if env.get("OMP_NUM_THREADS"):
        return current
    cpus = usable_cpus() if cpus is None else cpus
    return max(1, min(current, cpus - 1))


def lower_this_thread_priority(steps: int = ENGINE_NICE_STEPS) -> bool:
    """Lower the calling thread's scheduling priority (Linux: its own nice value); False where unsupported.

    Threads started from this one afterwards (torch's worker threads) inherit the new value.
    """
    if not sys.platform.startswith("linux"):
        return False  # elsewhere setpriority() acts on the whole process; the Qt thread priority is used instead
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + steps))
    except OSError:
        return False
    return True
