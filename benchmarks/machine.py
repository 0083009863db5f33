"""What every benchmark records beside its numbers: the machine, how busy it
was, and a reference speed measured in the same run.

A figure taken while other jobs share the cores can be several times too
slow, and nothing in the figure says so. So each benchmark records

* the load average before and after (``os.getloadavg``: 1, 5, 15 minutes);
* the cores *other* processes used while it ran: the machine's busy CPU time
  (``/proc/stat``, the hypervisor's steal included) less what this process
  and its descendants used (:class:`ProcessTree`), over the wall time. The load average after
  a run counts the benchmark's own threads (two busy threads on two cores
  read ~2), so it cannot tell a quiet run from a shared one; this can;
* a float32 matrix product's GFLOP/s on the benchmark's device, measured
  in the same run (on a GPU also bf16, the precision models run in there);
* CPU model, cores, torch threads, GPU name;

and a model row reports its achieved GFLOP/s as a fraction of that
reference. A fraction far below what the same model reached on a quiet run
says the run was disturbed, whatever the load average says.

    from machine import Machine
    machine = Machine.start(device)   # load before + reference product
    ... measure ...
    machine.finish()                  # load after
    print("\\n".join(machine.lines()))
"""
from __future__ import annotations

import contextlib
import os
import platform
import statistics
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch

BUSY_LOAD = 1.0     # 1-minute load average at the start at or above which a CPU figure is marked
BUSY_OTHERS = 0.25  # cores used by other processes during the run, on average, likewise


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def busy_seconds() -> Optional[float]:
    """Busy CPU seconds of the whole machine so far (the hypervisor's steal
    included); None where /proc/stat is missing."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    ticks = [int(x) for x in fields]
    # user nice system idle iowait irq softirq steal [guest guest_nice: inside user]
    return (sum(ticks[:3]) + sum(ticks[5:8])) / os.sysconf("SC_CLK_TCK")


class ProcessTree:
    """CPU seconds this process and all its descendants use from now on.

    A benchmark's work runs in subprocesses, their DataLoader workers and
    fork servers' pool workers, which ``getrusage`` misses (a fork server
    reaps its workers, and nobody reaps the fork server), so a thread reads
    every descendant's ``/proc/PID/stat`` five times a second and keeps its
    last figure. What a process uses after its last reading is missed (at
    most 0.2 s of it), which can only make other processes look busier.
    """

    def __init__(self, interval: float = 0.2):
        import resource
        import threading

        self._resource, self.interval = resource, interval
        self._tick = 1.0 / os.sysconf("SC_CLK_TCK")
        self._self0 = self._own()
        self._base = self._sample()  # (pid, start time) -> CPU seconds so far
        self._last = dict(self._base)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _own(self) -> float:
        usage = self._resource.getrusage(self._resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def _sample(self) -> Dict[tuple, float]:
        parent, seconds = {}, {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue  # ended meanwhile
            fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
            pid = int(stat.parent.name)
            parent[pid] = int(fields[1])
            seconds[(pid, fields[19])] = (int(fields[11]) + int(fields[12])) * self._tick
        me, mine = os.getpid(), {}
        for key, value in seconds.items():
            ancestor = parent.get(key[0])
            while ancestor and ancestor != me:
                ancestor = parent.get(ancestor)
            if ancestor == me:
                mine[key] = value
        return mine

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self._last.update(self._sample())

    def stop(self) -> float:
        """CPU seconds used since the start by this process and its descendants."""
        self._stop.set()
        self._thread.join()
        self._last.update(self._sample())
        children = sum(v - self._base.get(k, 0.0) for k, v in self._last.items())
        return self._own() - self._self0 + children


def load_average() -> Tuple[float, float, float]:
    try:
        return tuple(round(x, 2) for x in os.getloadavg())
    except OSError:  # not on this platform
        return (float("nan"),) * 3


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_gflops(device: torch.device, dtype: torch.dtype = torch.float32,
                  n: Optional[int] = None, seconds: float = 0.5) -> float:
    """Median GFLOP/s of an (n x n) @ (n x n) product over about ``seconds``.

    n defaults to 1024 on a CPU (a few ms per product on a few cores) and
    8192 on a GPU (large enough to reach the matrix units' rate).
    """
    n = n or (8192 if device.type == "cuda" else 1024)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):  # warm-up: kernel selection, page faults
        torch.mm(a, b)
    synchronize(device)
    rates: List[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(rates) < 3:
        t0 = time.perf_counter()
        torch.mm(a, b)
        synchronize(device)
        rates.append(2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    return round(statistics.median(rates), 1)


@dataclass
class Machine:
    """The machine a benchmark ran on, how loaded it was, and its reference speed."""

    device: str
    cpu: str
    cores: int
    torch_threads: int
    torch_version: str
    gpu: Optional[str] = None
    load_before: Tuple[float, float, float] = (float("nan"),) * 3
    load_after: Optional[Tuple[float, float, float]] = None
    reference_gflops: Dict[str, float] = field(default_factory=dict)  # dtype -> GFLOP/s
    others_cores: Optional[float] = None  # cores other processes used during the run
    _cpu_start: Optional[tuple] = field(default=None, repr=False)  # (time, busy s, ProcessTree)

    @classmethod
    def start(cls, device="cpu", reference: bool = True) -> "Machine":
        device = torch.device(device)
        machine = cls(device=str(device), cpu=cpu_name(), cores=usable_cores(),
                      torch_threads=torch.get_num_threads(), torch_version=torch.__version__,
                      gpu=torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                      load_before=load_average())
        busy = busy_seconds()
        if busy is not None:
            machine._cpu_start = (time.perf_counter(), busy, ProcessTree())
        if reference:
            machine.reference_gflops["float32"] = matmul_gflops(device, torch.float32)
            if device.type == "cuda":
                machine.reference_gflops["bfloat16"] = matmul_gflops(device, torch.bfloat16)
        return machine

    def finish(self) -> "Machine":
        self.load_after = load_average()
        if self._cpu_start is not None:
            t0, busy0, tree = self._cpu_start
            own = tree.stop()
            busy, wall = busy_seconds(), time.perf_counter() - t0
            self.others_cores = round(max(busy - busy0 - own, 0.0) / wall, 2) if wall > 0 else None
            self._cpu_start = None
        return self

    @property
    def busy(self) -> bool:
        """Other work shared the CPU: a CPU figure from this run is not a clean one."""
        if not self.device.startswith("cpu"):
            return False
        if self.load_before[0] >= BUSY_LOAD:
            return True
        if self.others_cores is not None:
            return self.others_cores >= BUSY_OTHERS
        return bool(self.load_after) and self.load_after[0] >= BUSY_LOAD  # no /proc/stat

    def fraction(self, achieved_gflops: float, dtype: str = "float32") -> Optional[float]:
        """Achieved GFLOP/s as a fraction of the reference product in ``dtype``."""
        ref = self.reference_gflops.get(dtype) or self.reference_gflops.get("float32")
        return round(achieved_gflops / ref, 3) if ref else None

    def lines(self) -> List[str]:
        where = f"{self.gpu} ({self.device}), host " if self.gpu else ""
        lines = [f"machine: {where}{self.cpu}, {self.cores} usable cores, "
                 f"torch {self.torch_version} with {self.torch_threads} threads, "
                 f"Python {platform.python_version()}"]
        after = f", after {fmt_load(self.load_after)}" if self.load_after else ""
        others = (f"; other processes used {self.others_cores:.2f} of {self.cores} cores meanwhile"
                  if self.others_cores is not None else "")
        lines.append(f"load average (1/5/15 min): before {fmt_load(self.load_before)}{after}{others}"
                     + ("  ** TAKEN UNDER LOAD: other jobs shared the CPU **" if self.busy else ""))
        if self.reference_gflops:
            refs = ", ".join(f"{dtype} {g:,.0f} GFLOP/s" for dtype, g in self.reference_gflops.items())
            lines.append(f"reference (matrix product on {self.device}, same run): {refs}")
        return lines

    def as_dict(self) -> dict:
        # fields only: the running ProcessTree (a thread) is not a result
        return dict({f.name: getattr(self, f.name) for f in fields(self)
                     if not f.name.startswith("_")}, busy=self.busy)


def save_report(text: str, out: Optional[str]) -> None:
    """Write a benchmark's report to ``out`` (``--out``), if one was given."""
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")


def fmt_load(load) -> str:
    return "/".join(f"{x:.2f}" for x in load)


def model_gflops(gmacs_per_image: float, images_per_s: float, mode: str) -> float:
    """Achieved GFLOP/s of a model: 2 FLOPs per multiply-add; a training step
    counts forward + backward as three forwards (the usual estimate)."""
    passes = 3 if mode == "train" else 1
    return 2 * gmacs_per_image * passes * images_per_s


__all__ = ["BUSY_LOAD", "BUSY_OTHERS", "Machine", "ProcessTree", "busy_seconds", "cpu_name", "load_average", "matmul_gflops", "model_gflops", "save_report",
           "synchronize", "usable_cores"]
