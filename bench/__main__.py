"""``make bench``: measure the kiosk beside same-run references and print one table.

Everything runs under Xvfb with ``SDL_FRAMEBUFFER_ACCELERATION=0``. The kiosk (and
the reference programs) are pinned to one core, Xvfb to another, as on a café PC
where one core is left to the kiosk beside a game. CPU and memory are read from
``/proc`` and ``/usr/bin/time -v``, outside the measured processes; playback counts
and the first locked frame come from the kiosk's trace. The table is printed and
written to ``bench-out/bench.md``.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.backend import Backend
from bench.table import Figure, median, render
from kiosk.config import load
from kiosk.guardian import Guardian
from kiosk.logs import Trace
from kiosk.platform import Rebooter, ui_environment
from tests.e2e.kiosk_run import MAIN_PY, ROOT, Kiosk, base_config, decoder_resident_kb, deep_merge
from tests.e2e.xscreen import VirtualScreen, click, wait_until
from tests.e2e.xscreen import key as press_key
from tests.e2e.xscreen import move as move_pointer

OUT = ROOT / "bench-out"
CLIPS = {"1080p30": (1920, 1080), "720p30": (1280, 720)}
# The screens cafés buy now, each playing the 1080p clip beside ffplay on the same screen;
# 21:9 letterboxes it left and right.
SCREENS = {"1440p": (2560, 1440), "4K": (3840, 2160), "21:9": (3440, 1440)}
CLIP_SECONDS = 10
CLIPS_FPS = 30
PLAY_S = 20.0
WIDGET_S = 30.0  # each widget CPU figure; the UI's RSS in C is read this long after C
FLOOR_S = 6.0  # the widget's library floor is read this long after its start
REPEATS = 10
WIDGET_SIZE = (320, 180)
END_BUTTON = (136, 148)  # the middle of 结束上机 in the widget (kiosk/scenes/session.py)
COLLAPSE = (286, 148)  # the middle of the control that folds the widget to the pill
FFPLAY_NAME = "ffplay -an -loop 0 -threads 1, screen-sized window, software renderer"
FFPLAY_STATS = re.compile(r"fd=\s*(\d+)")  # ffplay's status line: frames dropped so far
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- reading processes from outside


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) of a live process now, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def time_v_rss_mb(argv: list[str], env: dict[str, str]) -> float:
    """Peak RSS of a whole program run, as ``/usr/bin/time -v`` reports it."""
    done = subprocess.run(["/usr/bin/time", "-v", *argv], env=env, capture_output=True,
                          text=True, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(f"{argv} failed:\n{done.stderr[-2000:]}")
    for line in done.stderr.splitlines():
        if "Maximum resident set size" in line:
            return int(line.rsplit(":", 1)[1]) / 1024
    raise RuntimeError(f"/usr/bin/time printed no peak RSS for {argv}")


def probe(*args: str, env: dict[str, str] | None = None) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-m", "bench.probes", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- set-up


def ensure_tools() -> None:
    """Xvfb and friends as for the e2e tests, ffmpeg (H.264 clips, ffplay) and /usr/bin/time."""
    subprocess.run(["bash", str(ROOT / "tools" / "ensure-x-tools.sh")], check=True)
    missing = sorted({pkg for tool, pkg in (("ffmpeg", "ffmpeg"), ("ffplay", "ffmpeg"),
                                            ("/usr/bin/time", "time"))
                      if shutil.which(tool) is None})
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    print(f"installing {' '.join(missing)} for the bench", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends",
                    *missing], check=True, env=env)


def make_clip(name: str, size: tuple[int, int]) -> Path:
    """A 30 fps H.264 clip with motion everywhere (ffmpeg's testsrc2), made once."""
    path = OUT / "clips" / f"{name}.mp4"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi",
                    "-i", f"testsrc2=size={size[0]}x{size[1]}:rate={CLIPS_FPS}",
                    "-t", str(CLIP_SECONDS),
                    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                    "-g", "60", str(part)], check=True)
    part.rename(path)
    return path


def cores() -> tuple[set[int], set[int]]:
    """(the kiosk's core, the X server's core); the same one on a single-core machine."""
    available = sorted(os.sched_getaffinity(0))
    return {available[-1]}, {available[0]}


@contextlib.contextmanager
def screen_on(size: tuple[int, int], x_core: set[int], kiosk_core: set[int]
              ) -> Iterator[VirtualScreen]:
    """Xvfb on its core; everything the bench starts afterwards inherits the kiosk's core."""
    os.sched_setaffinity(0, x_core)
    screen = VirtualScreen(*size).start()
    os.sched_setaffinity(0, kiosk_core)
    try:
        yield screen
    finally:
        screen.stop()


def kiosk_config(workdir: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    config = base_config(workdir)
    config["timers"].update(scan_idle_s=60, session_report_s=10, session_poll_s=2)
    return deep_merge(config, overrides)


def trace_entries(kiosk: Kiosk, event: str, since: int = 0) -> list[dict[str, Any]]:
    return [e for e in kiosk.trace()[since:] if e.get("event") == event]


# --- the measurements


def decode_reference(clip: Path) -> dict[str, float]:
    """CPU ms per frame of OpenCV on one thread: decode only (grab), decode to BGR (read),
    each as fast as it goes and paced at the clip's rate (as playback decodes)."""
    return {f"{how}{'_paced' if paced else ''}": probe(
        "decode", str(clip), how, *(["paced"] if paced else []))["cpu_ms_per_frame"]
        for how in ("grab", "read") for paced in (False, True)}


def standby(clip: Path, screen_size: tuple[int, int], workdir: Path,
            cores_: tuple[set[int], set[int]], *, widget: bool = False, peer: bool = False,
            renderer: str = "auto") -> dict[str, Any]:
    """Play ``clip`` on A full screen on a ``screen_size`` screen for PLAY_S; optionally then
    C (``widget``), and ffplay on the same clip and screen (``peer``, always with C);
    ``renderer``: the kiosk's media.renderer."""
    kiosk_core, x_core = cores_
    files = workdir / "files"
    files.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(clip, files / "video.mp4")
    result: dict[str, Any] = {}
    with screen_on(screen_size, x_core, kiosk_core) as screen:
        config = kiosk_config(workdir, {"simulator": {"files_dir": str(files)},
                                        "media": {"renderer": renderer}})
        kiosk = Kiosk(screen, workdir, config)
        with kiosk.start():
            ui = kiosk.ui_pid()
            cached = str(workdir / "cache" / "video.mp4")

            def playing(after: float = 0.0) -> dict[str, Any] | None:
                return next((e for e in trace_entries(kiosk, "video") if e.get("path") == cached
                             and e.get("shown", 0) > 0 and e["ts"] >= after), None)

            # The stats line is written every few seconds: CPU is read the moment it appears.
            first = wait_until(playing, 60, interval=0.01,
                               message=f"the clip never played\n{kiosk.logs()}")
            cpu0 = cpu_s(ui)

            def later() -> dict[str, Any] | None:
                return playing(first["ts"] + PLAY_S)

            last = wait_until(later, PLAY_S + 30, interval=0.01, message="no later stats")
            cpu1 = cpu_s(ui)
            elapsed = last["ts"] - first["ts"]
            shown = last["shown"] - first["shown"]
            result.update(
                cpu_ms_per_frame=1000 * (cpu1 - cpu0) / max(1, shown), shown=shown,
                due=elapsed * last["fps"], dropped=last["dropped"] - first["dropped"],
                decoder=last["decoder"], presenter=last.get("presenter", "surface"),
                ui_rss_mb=peak_rss_mb(ui), ui_rss_now_mb=rss_mb(ui))
            if widget:
                result["floor_rss_mb"] = time_v_rss_mb(
                    [sys.executable, "-m", "bench.probes", "floor", str(clip)], screen.env())
                result.update(in_widget(kiosk, screen, ui))
        if widget or peer:
            result.update(ffplay_reference(clip, screen))
    return result


def in_widget(kiosk: Kiosk, screen: VirtualScreen, ui: int) -> dict[str, Any]:
    """From A, the session: B, then C. The widget's CPU over WIDGET_S, open and then
    collapsed; its RSS WIDGET_S after C, beside the widget's library floor read meanwhile
    (as is, and with its memory given back as the UI gives it); then the UI killed in C
    and started again in the session: its RSS WIDGET_S after that C, and whether it
    loaded OpenCV."""
    result: dict[str, Any] = {}
    mark = kiosk.mark()
    wait_until(lambda: _click_to_scan(kiosk, screen, mark), 20, interval=0.3,
               message=f"no page B\n{kiosk.logs()}")
    kiosk.control("start")  # B polls the status: rule 2 opens the widget
    entered = kiosk.wait_scene("C", since=mark, timeout=15)["ts"]
    time.sleep(2)  # the widget settles (its first seconds' draws)
    reference = subprocess.Popen(
        [sys.executable, "-m", "bench.probes", "idle", str(WIDGET_S), "tick"],
        cwd=ROOT, env=screen.env(), stdout=subprocess.PIPE, text=True)
    cpu0 = cpu_s(ui)
    time.sleep(max(0.0, entered + WIDGET_S - time.time()))
    result["ui_rss_c_mb"] = rss_mb(ui)
    result["decoder_left_kb"] = decoder_resident_kb(ui)
    time.sleep(max(0.0, entered + 2 + WIDGET_S - time.time()))
    result["widget_core_percent"] = 100 * (cpu_s(ui) - cpu0) / WIDGET_S
    out, _ = reference.communicate(timeout=30)
    result["idle_tick_core_percent"] = json.loads(out)["core_percent"]
    result.update(widget_floors(screen))  # after: not on the core while the widget is timed
    result["idle_wait_core_percent"] = probe(
        "idle", "10", "wait", env=screen.env())["core_percent"]

    x, y, _, _ = kiosk.geometry()
    click(x + COLLAPSE[0], y + COLLAPSE[1], screen)
    wait_until(lambda: kiosk.geometry()[2:] == (150, 40), 10, interval=0.1,
               message="the widget did not fold to the pill")
    time.sleep(2)
    cpu0 = cpu_s(ui)
    time.sleep(WIDGET_S)
    result["pill_core_percent"] = 100 * (cpu_s(ui) - cpu0) / WIDGET_S

    mark = kiosk.mark()
    os.kill(ui, signal.SIGKILL)  # rule 3: a (simulated) reboot, and the session goes on
    again = kiosk.ui_pid(other_than=ui, timeout=30)
    entered = kiosk.wait_scene("C", since=mark, timeout=30)["ts"]
    time.sleep(max(0.0, entered + WIDGET_S - time.time()))
    result["restarted_rss_c_mb"] = rss_mb(again)
    result["restarted_opencv"] = decoder_resident_kb(again) is not None
    return result


def widget_floors(screen: VirtualScreen) -> dict[str, float]:
    """The widget's library floor (bench/probes.py widget_floor), as is and given back,
    each read from outside FLOOR_S after its window is up (median of 3), with the UI's
    environment. One at a time: the kernel pages out no page another process maps too."""
    kinds = {"widget_floor_mb": [], "widget_floor_given_back_mb": ["given_back"]}
    floors: dict[str, list[float]] = {name: [] for name in kinds}
    env = ui_environment(screen.env())
    for _ in range(3):
        for name, extra in kinds.items():
            floor = subprocess.Popen(
                [sys.executable, "-m", "bench.probes", "widget_floor", str(FLOOR_S + 1), *extra],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
            time.sleep(FLOOR_S)
            floors[name].append(rss_mb(floor.pid))
            floor.wait(timeout=30)
    return {name: median(values) for name, values in floors.items()}


def ffplay_reference(clip: Path, screen: VirtualScreen) -> dict[str, float]:
    """The obvious peer on the same clip and screen: ``ffplay -an -loop 0 -threads 1`` with
    SDL's software renderer, on the kiosk's core, its window the screen's size. CPU per
    shown frame over PLAY_S, after 3 s of start; shown = due at the clip's rate − dropped
    (its status line's fd). ``-fs`` alone asks a window manager for full screen; with none
    (Xvfb) ffplay keeps a window of the clip's size and scales nothing: ``-x``/``-y`` and
    ``-left``/``-top`` make it cover the screen as the kiosk does."""
    stats = clip.with_suffix(".ffplay.log")
    size = ["-x", str(screen.width), "-y", str(screen.height), "-left", "0", "-top", "0"]
    with stats.open("w") as err:
        player = subprocess.Popen(
            ["ffplay", "-fs", "-noborder", *size, "-an", "-loop", "0", "-threads", "1",
             str(clip)],
            env=screen.env({"SDL_RENDER_DRIVER": "software"}), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=err)

    def dropped() -> int | None:
        found = FFPLAY_STATS.findall(stats.read_text(errors="replace"))
        return int(found[-1]) if found else None

    try:
        wait_until(dropped, 30, interval=0.1, message="ffplay printed no status line")
        time.sleep(3)
        cpu0, fd0, began = cpu_s(player.pid), dropped(), time.monotonic()
        time.sleep(PLAY_S)
        cpu1, fd1, elapsed = cpu_s(player.pid), dropped(), time.monotonic() - began
    finally:
        player.kill()
        player.wait()
    assert fd0 is not None and fd1 is not None
    fps = CLIPS_FPS
    shown = elapsed * fps - (fd1 - fd0)
    return {"ffplay_cpu_ms_per_frame": 1000 * (cpu1 - cpu0) / max(1.0, shown),
            "ffplay_shown": shown, "ffplay_dropped": fd1 - fd0}


def first_locked(workdir: Path, cores_: tuple[set[int], set[int]]) -> dict[str, float]:
    """Process start → first locked frame of the UI, and of a bare pygame window, median of 5."""
    kiosk_core, x_core = cores_
    config = kiosk_config(workdir, {"server": {"base_url": "http://127.0.0.1:9"}})
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "ui.yaml"
    import yaml

    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    trace = Path(config["log"]["trace"])
    # The UI started exactly as the guardian starts it (its --window puts black up first).
    simulated = Rebooter("simulate", (), Trace(None))
    ui_argv = Guardian(load(config_path), "http://127.0.0.1:9", simulated).ui_argv()
    ui_times, bare_times, full_times = [], [], []
    full_screen = ("import pygame; pygame.display.init(); "
                   "w = pygame.Window('x', (1920, 1080), position=(0, 0), borderless=True); "
                   "w.get_surface().fill((0, 0, 0)); w.flip()")
    with screen_on((1920, 1080), x_core, kiosk_core) as screen:
        env = screen.env({"PYGAME_HIDE_SUPPORT_PROMPT": "1"})
        for _ in range(5):
            started = time.time()
            subprocess.run([sys.executable, "-c",
                            "import pygame; pygame.display.set_mode((1, 1))"],
                           env=env, check=True)
            bare_times.append(time.time() - started)
            started = time.time()
            subprocess.run([sys.executable, "-c", full_screen], env=env, check=True)
            full_times.append(time.time() - started)
            # The bench plays the guardian: it holds the UI's pipes open while it runs.
            started = time.time()
            ui = subprocess.Popen(ui_argv, cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

            def locked(pid: int = ui.pid) -> float | None:
                with contextlib.suppress(FileNotFoundError):
                    for line in trace.read_text().splitlines():
                        entry = json.loads(line)
                        if entry.get("event") == "locked" and entry.get("pid") == pid:
                            return float(entry["ts"])
                return None

            ts = wait_until(locked, 30, interval=0.005, message="the UI never locked")
            ui_times.append(ts - started)
            ui.kill()
            ui.wait()
            for pipe in (ui.stdin, ui.stdout):
                if pipe is not None:
                    pipe.close()
    return {"ui_s": median(ui_times), "bare_s": median(bare_times),
            "full_s": median(full_times)}


def kill_to_reboot(workdir: Path, cores_: tuple[set[int], set[int]]) -> dict[str, float]:
    """SIGKILL of the UI in C → the reboot command running (it writes the time it starts),
    median of 10; the reference is the same command started by ``subprocess.Popen``. Also
    the guardian's peak RSS through that whole cycle, with a venue backend (no simulator)."""
    kiosk_core, x_core = cores_
    marker = workdir / "rebooted"
    command = ["sh", "-c", f"date +%s.%N >> {marker}"]

    def stamps() -> list[float]:
        with contextlib.suppress(FileNotFoundError):
            return [float(line) for line in marker.read_text().split()]
        return []

    kills, spawns, guardian_rss = [], [], 0.0
    with Backend("370011", status=2) as backend, \
            screen_on((1280, 720), x_core, kiosk_core) as screen:
        for i in range(REPEATS):
            run_dir = workdir / f"run{i}"
            run_dir.mkdir(parents=True, exist_ok=True)
            config = kiosk_config(run_dir, {
                "server": {"base_url": backend.url},
                "reboot": {"mode": "command", "command": command}})
            with Kiosk(screen, run_dir, config).start() as kiosk:
                kiosk.wait_scene("C", timeout=30)
                ui = kiosk.ui_pid()
                time.sleep(0.5)
                seen = len(stamps())
                killed = time.time()
                os.kill(ui, signal.SIGKILL)
                done = wait_until(lambda n=seen: stamps()[n:] or None, 10, interval=0.005,
                                  message="no reboot command")[0]
                kills.append(done - killed)
                kiosk.ui_pid(other_than=ui)  # the guardian started the UI again, locked
                guardian_rss = max(guardian_rss, peak_rss_mb(kiosk.proc.pid))
            seen = len(stamps())
            started = time.time()
            subprocess.Popen(command).wait()
            spawns.append(stamps()[seen] - started)
    return {"kill_ms": 1000 * median(kills), "spawn_ms": 1000 * median(spawns),
            "guardian_rss_mb": guardian_rss}


def status_to_page(workdir: Path, cores_: tuple[set[int], set[int]]) -> dict[str, float]:
    """On B, the server's status turns 2 (→ C, the widget) or 3 (→ E, still full screen):
    from its first answer leaving the server to the page change in the trace, median of
    10 each; and from the status change itself minus the poll period, the median of 10
    (the issue's figure) and the worst. The page change is its first frame on screen (the
    trace's page line is written after it). In C each time: 结束上机 → D, and back."""
    kiosk_core, x_core = cores_
    poll_s = 0.5
    after_answer: dict[int, list[float]] = {2: [], 3: []}
    after_change: dict[int, list[float]] = {2: [], 3: []}
    to_end: list[float] = []
    workdir.mkdir(parents=True, exist_ok=True)
    with Backend("370011", status=1) as backend, \
            screen_on((1280, 720), x_core, kiosk_core) as screen:
        config = kiosk_config(workdir, {
            "server": {"base_url": backend.url},
            "timers": {"scan_poll_s": poll_s, "session_poll_s": poll_s, "unpaid_poll_s": poll_s},
            "reboot": {"mode": "simulate", "simulate_s": 0.5}})
        with Kiosk(screen, workdir, config).start() as kiosk:
            kiosk.wait_scene("A", timeout=30)
            for index, (status, page) in enumerate([(2, "C"), (3, "E")] * REPEATS):
                mark = kiosk.mark()
                wait_until(lambda m=mark: _click_to_scan(kiosk, screen, m), 20, interval=0.3,
                           message=f"no page B\n{kiosk.logs()}")
                # A different moment of the poll period each time, so the worst case shows.
                time.sleep(poll_s * (1 + index / (2 * REPEATS)))
                mark = kiosk.mark()
                changed = backend.set_status(status)
                shown = kiosk.wait_scene(page, since=mark, timeout=15)["ts"]
                answer = backend.first_answer(status, changed)
                assert answer is not None
                after_answer[status].append(shown - answer)
                after_change[status].append(shown - changed)
                if page == "C":
                    to_end.append(_end_and_back(kiosk, screen))
                mark = kiosk.mark()
                backend.set_status(1)  # rule 5 or 7: simulated reboot, then back to A
                kiosk.wait_scene("A", since=mark, timeout=15)
    return {"answer_c_ms": 1000 * median(after_answer[2]),
            "answer_e_ms": 1000 * median(after_answer[3]),
            "change_c_ms": 1000 * median(after_change[2]),
            "change_e_ms": 1000 * median(after_change[3]),
            "worst_change_c_ms": 1000 * max(after_change[2]),
            "worst_change_e_ms": 1000 * max(after_change[3]), "poll_ms": 1000 * poll_s,
            "end_d_ms": 1000 * median(to_end), "worst_end_d_ms": 1000 * max(to_end)}


def _end_and_back(kiosk: Kiosk, screen: VirtualScreen) -> float:
    """In C (its full-screen pages' memory given back), a click on 结束上机: from starting
    xdotool's click to D's first frame on screen, drawn again from nothing; then Esc
    (继续上机). The pointer rests on the button first, as a hand's does before it clicks:
    the widget wakes ten times a second while the pointer is over it, twice otherwise."""
    time.sleep(0.5)  # the widget gave its memory back after its first frame
    x, y, w, h = kiosk.geometry()
    assert (w, h) == WIDGET_SIZE, (w, h)
    move_pointer(x + END_BUTTON[0], y + END_BUTTON[1], screen)
    time.sleep(0.3)
    mark = kiosk.mark()
    pressed = time.time()
    click(x + END_BUTTON[0], y + END_BUTTON[1], screen)
    shown = kiosk.wait_scene("D", since=mark, timeout=10)["ts"]
    mark = kiosk.mark()
    press_key("Escape", screen, window=kiosk.window())
    kiosk.wait_scene("C", since=mark, timeout=10)
    return shown - pressed


def _click_to_scan(kiosk: Kiosk, screen: VirtualScreen, mark: int) -> bool:
    if any(e.get("scene") == "B" for e in trace_entries(kiosk, "scene", mark)):
        return True
    click(screen.width // 2, screen.height // 3, screen)
    return False


# --- the run


def ffplay_note(play: dict[str, Any]) -> str:
    return (f"ffplay dropped {play['ffplay_dropped']} of "
            f"{play['ffplay_shown'] + play['ffplay_dropped']:.0f}")


def on_screens(clip: Path, at_clip_size: dict[str, Any], run_dir: Path,
               cores_: tuple[set[int], set[int]], log: Callable[[str], None]) -> list[Figure]:
    """The 1080p clip on the larger screens of SCREENS: the kiosk's CPU per shown frame
    beside its own on the clip's size (``at_clip_size``, same run) and beside ffplay's on
    the same screen, and every frame shown."""
    figures: list[Figure] = []
    base = at_clip_size["cpu_ms_per_frame"]
    for name, (w, h) in SCREENS.items():
        play = standby(clip, (w, h), run_dir / f"standby-1080p30-{name}", cores_, peer=True)
        log(f"1080p30 on {w}x{h}: standby {play}")
        screen = f"1080p30 on a {w}×{h} screen"
        figures += [
            Figure(f"standby CPU per shown frame, {screen}, vs the same on 1920×1080",
                   play["cpu_ms_per_frame"], "ms", base, "the kiosk, 1080p30 on 1920×1080",
                   1.15, note=play["presenter"]),
            Figure(f"standby CPU per shown frame, {screen}, vs ffplay", play["cpu_ms_per_frame"],
                   "ms", play["ffplay_cpu_ms_per_frame"], FFPLAY_NAME, 0.8,
                   note=ffplay_note(play)),
            Figure(f"frames shown ÷ due over {PLAY_S:g} s, {screen}", play["shown"], "frames",
                   play["due"], "due at 30 fps by the wall clock", 0.995, higher_is_better=True,
                   note=f"{play['dropped']} dropped"),
        ]
        if name == "4K":  # why auto keeps the surface where SDL's renderer is software
            forced = standby(clip, (w, h), run_dir / "standby-1080p30-4K-software", cores_,
                             renderer="software")
            log(f"1080p30 on {w}x{h}, media.renderer software: standby {forced}")
            figures.append(Figure(
                f"standby CPU per shown frame, {screen}, SDL's software renderer forced",
                forced["cpu_ms_per_frame"], "ms", play["cpu_ms_per_frame"],
                f"the same with media.renderer auto: {play['presenter']}",
                note=f"{forced['presenter']}, {forced['dropped']} dropped"))
    return figures


def measure_standby(run_dir: Path, log: Callable[[str], None]) -> list[Figure]:
    """``--only standby``: the 1080p clip on its own screen size and on SCREENS, each beside
    ffplay's on the same screen (a few minutes, for work on the video path)."""
    cores_ = cores()
    clip = make_clip("1080p30", CLIPS["1080p30"])
    os.sched_setaffinity(0, cores_[0])
    play = standby(clip, CLIPS["1080p30"], run_dir / "standby-1080p30", cores_, peer=True)
    log(f"1080p30: standby {play}")
    figures = [
        Figure("standby CPU per shown frame, 1080p30 on 1920×1080, vs ffplay",
               play["cpu_ms_per_frame"], "ms", play["ffplay_cpu_ms_per_frame"], FFPLAY_NAME,
               0.8, note=ffplay_note(play)),
        Figure(f"frames shown ÷ due over {PLAY_S:g} s, 1080p30 on 1920×1080", play["shown"],
               "frames", play["due"], "due at 30 fps by the wall clock", 0.995,
               higher_is_better=True, note=f"{play['dropped']} dropped, {play['presenter']}"),
    ]
    return figures + on_screens(clip, play, run_dir, cores_, log)


def measure(run_dir: Path, log: Callable[[str], None]) -> list[Figure]:
    cores_ = cores()
    figures: list[Figure] = []
    for index, (name, size) in enumerate(CLIPS.items()):
        clip = make_clip(name, size)
        os.sched_setaffinity(0, cores_[0])  # the references run on the kiosk's core
        before = decode_reference(clip)
        play = standby(clip, size, run_dir / f"standby-{name}", cores_, widget=index == 0)
        after = decode_reference(clip)
        ref = {key: (before[key] + after[key]) / 2 for key in before}
        log(f"{name}: decode references before {before}, after {after}")
        log(f"{name}: standby {play}")
        figures += [
            Figure(f"standby CPU per shown frame, {name}", play["cpu_ms_per_frame"], "ms",
                   ref["grab"], "OpenCV grab() decode only, 1 thread", 1.3,
                   note=f"{play['decoder']} decoding, {play['presenter']}"),
            Figure(f"standby CPU per shown frame, {name}, vs decoding at 30 fps",
                   play["cpu_ms_per_frame"], "ms", ref["grab_paced"],
                   "grab() paced at the clip's rate"),
            Figure(f"OpenCV read() per frame, {name}", ref["read"], "ms", ref["grab"],
                   "grab() decode only", note="OpenCV's floor: it always converts to BGR"),
            Figure(f"OpenCV read() at 30 fps, {name}", ref["read_paced"], "ms",
                   ref["grab_paced"], "grab() paced at the clip's rate"),
            Figure(f"frames shown ÷ due over {PLAY_S:g} s, {name}", play["shown"], "frames",
                   play["due"], "due at 30 fps by the wall clock", 0.995, higher_is_better=True,
                   note=f"{play['dropped']} dropped"),
        ]
        if index == 0:
            floor_name = "320×180 pygame window; pygame, numpy, cv2, requests imported"
            figures += [
                Figure(f"standby CPU per shown frame, {name}, vs ffplay", play["cpu_ms_per_frame"],
                       "ms", play["ffplay_cpu_ms_per_frame"], FFPLAY_NAME, 0.8,
                       note=ffplay_note(play)),
                Figure("widget (C) CPU over 30 s", play["widget_core_percent"], "% core",
                       play["idle_tick_core_percent"], "bare pygame loop, tick(10)"),
                Figure("widget (C) CPU over 30 s, absolute", play["widget_core_percent"],
                       "% core", target=0.3),
                Figure("widget (C) collapsed to the pill, CPU over 30 s, absolute",
                       play["pill_core_percent"], "% core", target=0.3),
                Figure(f"UI RSS in C, {WIDGET_S:g} s after A played {name} for {PLAY_S:g} s",
                       play["ui_rss_c_mb"], "MB", play["widget_floor_mb"], floor_name, 1.1,
                       note=f"OpenCV's code left in it alone: {play['decoder_left_kb']} KB"),
                Figure(f"UI RSS in C after A played {name}, absolute", play["ui_rss_c_mb"], "MB",
                       target=75),
                Figure("UI RSS in C, vs that floor given back the same way",
                       play["ui_rss_c_mb"], "MB", play["widget_floor_given_back_mb"],
                       "the same, then malloc_trim and OpenCV's code paged out",
                       note="what is the kiosk's own: its code, fonts, threads"),
                Figure(f"UI RSS in C, {WIDGET_S:g} s after the UI restarted in the session",
                       play["restarted_rss_c_mb"], "MB", play["widget_floor_mb"], floor_name,
                       1.1, note="OpenCV loaded" if play["restarted_opencv"]
                       else "OpenCV never loaded"),
                Figure("idle loop with event.wait(100)", play["idle_wait_core_percent"],
                       "% core", play["idle_tick_core_percent"], "clock.tick(10) loop",
                       note="why the loop does not use it"),
                Figure(f"UI peak RSS on A, {name}", play["ui_rss_mb"], "MB",
                       play["floor_rss_mb"], "pygame window + OpenCV decoding the clip"),
                Figure(f"UI peak RSS on A, {name}, absolute", play["ui_rss_mb"], "MB",
                       target=110),
                Figure(f"UI RSS on A after {PLAY_S:g} s of {name}", play["ui_rss_now_mb"], "MB",
                       play["floor_rss_mb"], "pygame window + OpenCV decoding the clip",
                       note="now, not the peak"),
            ]
            figures += on_screens(clip, play, run_dir, cores_, log)
    start = first_locked(run_dir / "start", cores_)
    log(f"start-up: {start}")
    figures.append(Figure("UI start → first locked frame", 1000 * start["ui_s"], "ms",
                          1000 * start["bare_s"], "python -c 'import pygame; set_mode((1, 1))'",
                          1.5, note="median of 5, from the trace"))
    figures.append(Figure("UI start → first locked frame, vs a bare full-screen frame",
                          1000 * start["ui_s"], "ms", 1000 * start["full_s"],
                          "python -c: pygame, 1920×1080 window, black, flip"))
    kill = kill_to_reboot(run_dir / "kill", cores_)
    log(f"kill → reboot: {kill}")
    python_rss = time_v_rss_mb([sys.executable, "-c", "pass"], dict(os.environ))
    figures += [Figure("guardian peak RSS", kill["guardian_rss_mb"], "MB", python_rss,
                       "bare python", note="venue backend, through a kill and restart"),
                Figure("guardian peak RSS, absolute", kill["guardian_rss_mb"], "MB", target=25),
                Figure("kill in C → reboot command started", kill["kill_ms"], "ms",
                       kill["spawn_ms"], "Popen of the same command", note="median of 10"),
                Figure("kill in C → reboot command started, absolute", kill["kill_ms"], "ms",
                       target=100)]
    status = status_to_page(run_dir / "status", cores_)
    log(f"status → page: {status}")
    figures += [Figure("status answer → page E on screen (full screen to full screen)",
                       status["answer_e_ms"], "ms", target=100, note="median of 10"),
                Figure("status answer → page C on screen (the widget's first frame)",
                       status["answer_c_ms"], "ms", target=100, note="median of 10"),
                Figure("status change → page E, minus the poll period",
                       status["change_e_ms"] - status["poll_ms"], "ms", target=100,
                       note=f"median of 10, poll {status['poll_ms']:g} ms"),
                Figure("status change → page C, minus the poll period",
                       status["change_c_ms"] - status["poll_ms"], "ms", target=100,
                       note=f"median of 10, poll {status['poll_ms']:g} ms"),
                Figure("status change → page E, worst of 10, minus the poll period",
                       status["worst_change_e_ms"] - status["poll_ms"], "ms",
                       note=f"poll {status['poll_ms']:g} ms"),
                Figure("status change → page C, worst of 10, minus the poll period",
                       status["worst_change_c_ms"] - status["poll_ms"], "ms",
                       note=f"poll {status['poll_ms']:g} ms"),
                Figure("结束上机 in C → page D on screen, made again after C gave it back",
                       status["end_d_ms"], "ms", target=200,
                       note="median of 10, from starting xdotool's click, the pointer on it"),
                Figure("结束上机 in C → page D on screen, worst of 10", status["worst_end_d_ms"],
                       "ms", target=200)]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--skip-install", action="store_true",
                        help="do not install missing tools with apt-get")
    parser.add_argument("--only", choices=["standby"],
                        help="standby: only the standby video's rows (the 1080p clip on "
                             "1920×1080 and the larger screens, beside ffplay), a few minutes")
    args = parser.parse_args(argv)
    if not args.skip_install:
        ensure_tools()
    # A built kiosk carries its bytecode; a checkout may not (PYTHONDONTWRITEBYTECODE), and
    # compiling every module at each start would be timed as the kiosk's own start-up.
    compileall.compile_dir(ROOT / "kiosk", quiet=1)
    compileall.compile_file(MAIN_PY, quiet=1)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = OUT / f"run-{stamp}"
    run_dir.mkdir(parents=True, exist_ok=True)

    def log(line: str) -> None:
        print(line, flush=True)
        with (run_dir / "bench.log").open("a") as f:
            f.write(line + "\n")

    figures = measure_standby(run_dir, log) if args.only == "standby" else measure(run_dir, log)
    title = (f"make bench, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
             f"kiosk pinned to core {sorted(cores()[0])[0]}")
    table = render(figures, title + (" (standby rows only)" if args.only else ""))
    print(table)
    (OUT / "bench.md").write_text(table, encoding="utf-8")
    (run_dir / "bench.md").write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
