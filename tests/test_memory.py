"""Memory given back to the OS on entering C (kiosk/platform/memory.py): glibc's heap and
the decoder's code pages for real on Linux; the working-set trim and figure for real under
a real Win32, with a fake kernel32 for what Wine never does (refuse the trim)."""

from __future__ import annotations

import ctypes
import mmap
import sys
from pathlib import Path

import pytest

from kiosk.platform import memory

MB = 2**20

MAPS = """\
55d0c0000000-55d0c0100000 r--p 00000000 fd:01 100 /usr/bin/python3.11
7f0000000000-7f0000200000 r--p 00000000 fd:01 200 /venv/site-packages/cv2/cv2.abi3.so
7f0000200000-7f0000600000 r-xp 00200000 fd:01 200 /venv/site-packages/cv2/cv2.abi3.so
7f0000600000-7f0000610000 rw-p 00600000 fd:01 200 /venv/site-packages/cv2/cv2.abi3.so
7f0000700000-7f0000800000 r-xp 00000000 fd:01 300 /venv/site-packages/cv2extra/x.so
7f0000800000-7f0000900000 r-xp 00000000 fd:01 400 /venv/site-packages/numpy.libs/libopenblas.so
7f0000900000-7f0000a00000 rw-p 00000000 00:00 0
7f0000a00000-7f0000b00000 r-xp 00000000 fd:01 500 /venv/site-packages/with space/lib.so
"""


@pytest.mark.linux  # /proc/PID/maps and POSIX paths
def test_the_read_only_mappings_of_the_named_folders_are_found_and_nothing_else():
    folders = [Path("/venv/site-packages/cv2"), Path("/venv/site-packages/numpy.libs"),
               Path("/venv/site-packages/with space")]
    assert memory.code_mappings(MAPS, folders) == [
        (0x7f0000000000, 0x200000), (0x7f0000200000, 0x400000),  # not its written data
        (0x7f0000800000, 0x100000), (0x7f0000a00000, 0x100000)]  # not cv2extra/
    assert memory.code_mappings(MAPS, []) == []


class Libc:
    """glibc's two calls, as they answer: madvise 0 (or -1, refused), malloc_trim 1 or 0."""

    def __init__(self, madvise: int = 0, trimmed: int = 1) -> None:
        self.advised: list[tuple[int, int, int]] = []
        self.trims: list[int] = []
        self._madvise, self._trimmed = madvise, trimmed

    def madvise(self, start: int, length: int, advice: int) -> int:
        self.advised.append((start, length, advice))
        return self._madvise

    def malloc_trim(self, pad: int) -> int:
        self.trims.append(pad)
        return self._trimmed


@pytest.mark.linux  # /proc/PID/maps and POSIX paths
def test_linux_trims_every_heap_and_pages_the_decoders_code_out(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text(MAPS)
    libc = Libc()
    said = memory.give_back([Path("/venv/site-packages/cv2")], "linux", libc=libc, maps=maps)
    assert libc.trims == [0]  # 0: keep no padding at the top of the heap
    assert libc.advised == [(0x7f0000000000, 0x200000, memory.MADV_PAGEOUT),
                            (0x7f0000200000, 0x400000, memory.MADV_PAGEOUT)]
    assert said == "heap trimmed; the decoder's code paged out (2 mappings)"
    # A UI that never loaded the decoder names nothing to page out.
    assert memory.give_back([], "linux", libc=Libc(trimmed=0), maps=maps) == (
        "heap: nothing to trim")


@pytest.mark.linux  # /proc/PID/maps and POSIX paths
def test_a_kernel_without_pageout_and_a_libc_without_malloc_trim_are_said_plainly(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text(MAPS)
    old_kernel = memory.give_back([Path("/venv/site-packages/cv2")], "linux",
                                  libc=Libc(madvise=-1), maps=maps)
    assert old_kernel == "heap trimmed; the decoder's code stays (MADV_PAGEOUT refused)"

    class Musl:
        def madvise(self, start: int, length: int, advice: int) -> int:
            return 0

    assert memory.give_back([], "linux", libc=Musl()) == "no malloc_trim in this C library"


class Kernel32:
    CURRENT = 0xFFFFFFFFFFFFFFFF  # GetCurrentProcess's pseudo handle, as ctypes returns it

    def __init__(self, ok: int = 1) -> None:
        self.calls: list[tuple[int, int, int]] = []
        self.ok = ok

    def GetCurrentProcess(self) -> int:  # noqa: N802 (the Windows names)
        return self.CURRENT

    def SetProcessWorkingSetSize(self, process: int, low: int, high: int) -> int:  # noqa: N802
        self.calls.append((process, low, high))
        return self.ok


def test_windows_empties_the_working_set_of_this_process():
    kernel32 = Kernel32()
    assert memory.give_back([Path("C:/kiosk/cv2")], "win32", kernel32=kernel32) == (
        "working set trimmed")
    size_t_minus_one = ctypes.c_size_t(-1).value
    assert kernel32.calls == [(Kernel32.CURRENT, size_t_minus_one, size_t_minus_one)]
    assert memory.give_back([], "win32", kernel32=Kernel32(ok=0)) == (
        "working set not trimmed: SetProcessWorkingSetSize failed")


@pytest.mark.win32
def test_windows_reads_the_working_set_from_the_processs_own_counters():
    """Real kernel32: touching 64 MB grows the figure by about that much (Wine fills
    PROCESS_MEMORY_COUNTERS from the process's resident set)."""
    before = memory.resident_mb()
    block = bytearray(64 * MB)
    block[::mmap.PAGESIZE] = b"\1" * (len(block) // mmap.PAGESIZE)  # every page touched
    after = memory.resident_mb()
    assert before is not None and after is not None and after - before > 48, (before, after)


@pytest.mark.win32
def test_windows_takes_the_working_set_trim_for_real():
    """Real kernel32 accepts (SIZE_T)-1 twice for this process (what a trim gives back is
    Windows' to decide; Wine accepts the call and keeps the pages)."""
    assert memory.give_back([Path(memory.__file__).parent], "win32") == "working set trimmed"
    assert memory.resident_mb() is not None


def test_the_working_set_counters_have_the_windows_layout():
    # DWORD, DWORD, then eight SIZE_Ts: 72 bytes on 64-bit Windows, 40 on 32-bit.
    pointer = ctypes.sizeof(ctypes.c_void_p)
    assert ctypes.sizeof(memory.PROCESS_MEMORY_COUNTERS) == 8 + 8 * pointer
    assert memory.PROCESS_MEMORY_COUNTERS.WorkingSetSize.offset == 8 + pointer


def test_other_systems_are_left_alone():
    assert memory.give_back([], "darwin") == "nothing to trim on this OS"


@pytest.mark.linux
def test_freed_heap_goes_back_to_the_os_for_real():
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = (ctypes.c_void_p,)
    blocks = [libc.malloc(64 * 1024) for _ in range(640)]  # 40 MB in blocks below mmap's
    for block in blocks:
        ctypes.memset(block, 1, 64 * 1024)
    for block in blocks[:-1]:  # the last one keeps the heap's top where it is
        libc.free(block)
    before = memory.resident_mb()
    said = memory.give_back([], "linux")
    after = memory.resident_mb()
    libc.free(blocks[-1])
    assert said == "heap trimmed"
    assert before is not None and after is not None and before - after > 30


@pytest.mark.linux
def test_the_pages_of_a_library_folder_are_handed_back_for_real(tmp_path):
    folder = tmp_path / "decoder"
    folder.mkdir()
    code = folder / "code.bin"
    code.write_bytes(bytes(range(256)) * (32 * MB // 256))
    with code.open("rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as mapped:
        assert sum(mapped[i] for i in range(0, len(mapped), mmap.PAGESIZE)) >= 0  # all touched
        before = memory.resident_mb()
        said = memory.give_back([folder], "linux")
        after = memory.resident_mb()
    assert "the decoder's code paged out (1 mapping)" in said
    assert before is not None and after is not None and before - after > 24


class Mallopt:
    def __init__(self, ok: int = 1) -> None:
        self.ok = ok
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, parameter: int, value: int) -> int:
        self.calls.append((parameter, value))
        return self.ok


def test_the_ui_asks_glibc_for_one_heap_and_says_when_it_cannot():
    libc = Mallopt()
    assert memory.one_heap("linux", libc) == "one heap"
    assert libc.calls == [(memory.M_ARENA_MAX, 1)]
    assert memory.one_heap("linux", Mallopt(ok=0)) == "mallopt(M_ARENA_MAX) refused"
    assert memory.one_heap("linux", object()) == "no mallopt in this C library"
    assert memory.one_heap("win32", libc) == "one heap already"
    assert len(libc.calls) == 1


ONE_HEAP_PROBE = """
import ctypes, sys, threading
from kiosk.platform import memory
if sys.argv[1] == "one":
    print(memory.one_heap(), file=sys.stderr)
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
where = []
thread = threading.Thread(target=lambda: where.append(libc.malloc(4096)))
thread.start()
thread.join()
heap = next(line.split()[0] for line in open("/proc/self/maps") if line.endswith("[heap]\\n"))
start, end = (int(n, 16) for n in heap.split("-"))
print(start <= where[0] < end)
"""


@pytest.mark.linux
@pytest.mark.parametrize(("heaps", "in_main_heap"), [("one", "True"), ("default", "False")])
def test_with_one_heap_a_threads_blocks_come_from_the_main_heap_for_real(heaps, in_main_heap):
    """The decoder's thread allocates from the heap malloc_trim trims, not an arena of its
    own (the default shows the probe can tell them apart)."""
    import subprocess

    done = subprocess.run([sys.executable, "-c", ONE_HEAP_PROBE, heaps], capture_output=True,
                          text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
    assert done.stdout.split() == [in_main_heap]
    assert done.stderr.strip() == ("one heap" if heaps == "one" else "")
