"""Giving memory back to the OS once the full-screen pages are left for the widget.

In a session a game runs beside the widget, and whatever the UI keeps resident is taken
from it. Memory the pages freed does not leave the process by itself:

- Windows keeps every page a process touched in its working set until it is trimmed;
  ``SetProcessWorkingSetSize(process, -1, -1)`` is the standard trim. The pages go to the
  standby list and come back from memory on the next touch; those the widget does not
  touch (the decoder's code and buffers) stay with the game.
- Linux: glibc keeps freed blocks in its heaps (each thread's arena too) until
  ``malloc_trim``; and the code pages the decoder ran stay mapped into the process.
  ``madvise(MADV_PAGEOUT)`` (Linux 5.4) hands those back, for the libraries the caller
  names: the widget never runs them, and they are read again if the video plays again.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MADV_PAGEOUT = 21
M_ARENA_MAX = -8  # mallopt's parameter number (glibc malloc.h)


def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    return libc


class PROCESS_MEMORY_COUNTERS(ctypes.Structure):  # noqa: N801 (the Windows name)
    # DWORD is 32 bits and SIZE_T pointer-sized on Windows.
    _fields_ = [("cb", ctypes.c_uint32), ("PageFaultCount", ctypes.c_uint32),
                *((name, ctypes.c_size_t) for name in (
                    "PeakWorkingSetSize", "WorkingSetSize", "QuotaPeakPagedPoolUsage",
                    "QuotaPagedPoolUsage", "QuotaPeakNonPagedPoolUsage",
                    "QuotaNonPagedPoolUsage", "PagefileUsage", "PeakPagefileUsage"))]


def _kernel32() -> Any:
    kernel32 = ctypes.WinDLL("kernel32")  # type: ignore[attr-defined]
    # SIZE_T arguments: without these, -1 would be passed as a 32-bit int on 64-bit Windows.
    kernel32.GetCurrentProcess.restype = ctypes.c_void_p
    kernel32.SetProcessWorkingSetSize.argtypes = (ctypes.c_void_p, ctypes.c_size_t,
                                                  ctypes.c_size_t)
    kernel32.K32GetProcessMemoryInfo.argtypes = (
        ctypes.c_void_p, ctypes.POINTER(PROCESS_MEMORY_COUNTERS), ctypes.c_uint32)
    return kernel32


def one_heap(platform: str = sys.platform, libc: Any = None) -> str:
    """Have every thread allocate from one glibc heap; says what was done.

    glibc gives each thread that allocates its own arena (up to 8 per core), and each
    keeps its freed blocks: on A the decoder's arena alone held 8 MB beside the main
    heap. One heap keeps that memory where the next frame's allocations reuse it and
    where ``malloc_trim`` finds it. The UI's threads mostly wait, so they do not queue
    on the heap's lock. Called before the UI starts its threads; Windows' process heap
    is one heap already.
    """
    if not platform.startswith("linux"):
        return "one heap already"
    libc = libc if libc is not None else _libc()
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return "no mallopt in this C library"
    return "one heap" if mallopt(M_ARENA_MAX, 1) else "mallopt(M_ARENA_MAX) refused"


def code_mappings(maps: str, folders: Sequence[Path]) -> list[tuple[int, int]]:
    """(start, length) of each read-only mapping of a file under one of ``folders``, from
    the text of ``/proc/PID/maps``. Written mappings are left alone: their changed pages
    are the process's own data, not the file's."""
    prefixes = tuple(f"{folder}/" for folder in folders)
    found = []
    for line in maps.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and "w" not in fields[1] and fields[5].startswith(prefixes):
            start, end = (int(n, 16) for n in fields[0].split("-"))
            found.append((start, end - start))
    return found


def resident_mb(platform: str = sys.platform, statm: Path = Path("/proc/self/statm"),
                kernel32: Any = None) -> float | None:
    """This process's resident memory: its working set on Windows, its resident set on
    Linux; None where it cannot be read."""
    if platform == "win32":
        return working_set_mb(kernel32)
    import os

    try:
        return int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


def working_set_mb(kernel32: Any = None) -> float | None:
    """The working set from the process's own counters (``K32GetProcessMemoryInfo``, in
    kernel32 since Windows 7, so psapi.dll need not be loaded); None if refused."""
    kernel32 = kernel32 if kernel32 is not None else _kernel32()
    counters = PROCESS_MEMORY_COUNTERS(cb=ctypes.sizeof(PROCESS_MEMORY_COUNTERS))
    if not kernel32.K32GetProcessMemoryInfo(kernel32.GetCurrentProcess(),
                                            ctypes.byref(counters), counters.cb):
        return None
    return counters.WorkingSetSize / 2**20


def trim_linux(unused_code: Sequence[Path] = (), libc: Any = None,
               maps: Path = Path("/proc/self/maps")) -> str:
    """The glibc heaps' free pages back to the OS, and the code of the libraries under
    ``unused_code`` paged out."""
    libc = libc if libc is not None else _libc()
    done = []
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:  # musl and others give large blocks back at once
        done.append("no malloc_trim in this C library")
    else:
        done.append("heap trimmed" if trim(0) else "heap: nothing to trim")
    if unused_code:
        try:
            mappings = code_mappings(maps.read_text(), unused_code)
        except OSError:
            mappings = []
        refused = sum(1 for start, length in mappings
                      if libc.madvise(start, length, MADV_PAGEOUT) != 0)
        if mappings and refused == len(mappings):  # a kernel before 5.4
            done.append("the decoder's code stays (MADV_PAGEOUT refused)")
        elif mappings:
            advised = len(mappings) - refused
            done.append(f"the decoder's code paged out ({advised} mapping"
                        f"{'' if advised == 1 else 's'})")
    return "; ".join(done)


def trim_windows(kernel32: Any = None) -> str:
    """Empty the working set: Windows' own way to take back what a process no longer uses."""
    kernel32 = kernel32 if kernel32 is not None else _kernel32()
    every_page = ctypes.c_size_t(-1).value  # (SIZE_T)-1 twice: "as many pages as possible"
    if kernel32.SetProcessWorkingSetSize(kernel32.GetCurrentProcess(), every_page, every_page):
        return "working set trimmed"
    return "working set not trimmed: SetProcessWorkingSetSize failed"


def give_back(unused_code: Sequence[Path] = (), platform: str = sys.platform,
              **fakes: Any) -> str:
    """Return freed memory, and the pages of code no longer run (the libraries under
    ``unused_code``), to the OS the way this OS takes them; says what was done."""
    if platform == "win32":
        return trim_windows(**fakes)
    if platform.startswith("linux"):
        return trim_linux(unused_code, **fakes)
    return "nothing to trim on this OS"
