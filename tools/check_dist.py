"""Smoke check of the built one-folder program (the last step of ``make dist``).

It checks what an operator relies on after copying ``dist/kiosk/`` to a PC: the
bundled media and licence are inside, ``--help`` answers, ``install`` registers the
built executable itself (into a throw-away HOME), and on a virtual screen the
program starts, locks the screen and asks the server with the id it found for
this machine in a clients.csv. Prints what it saw; exits 1 on the first failure.

    .venv/bin/python tools/check_dist.py dist/kiosk
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e import xscreen  # noqa: E402
from tests.e2e.kiosk_run import start_kiosk  # noqa: E402

BUNDLED = ("media/fonts/NotoSansSC-Regular.otf", "media/fonts/NotoSansSC-Bold.otf",
           "media/fonts/OFL.txt", "media/background.png", "media/standby.mp4",
           "kiosk/simulator/control.html")
BESIDE = ("config.example-venue.yaml", "OFL.txt")
CLIENT_ID = "370099"
SHOT = ROOT / "build" / "check-dist-page-a.png"


def check(ok: bool, what: str) -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {what}", flush=True)
    if not ok:
        sys.exit(1)


def run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, check=False)


def check_files(folder: Path, program: Path) -> None:
    check(program.is_file() and os.access(program, os.X_OK), f"{program} is executable")
    internal = folder / "_internal"
    for name in BUNDLED:
        check((internal / name).is_file(), f"_internal/{name} is bundled")
    for name in BESIDE:
        check((folder / name).is_file(), f"{name} sits beside the executable")


def check_commands(program: Path, tmp: Path) -> None:
    started = time.monotonic()
    answer = run([str(program), "--help"])
    check(answer.returncode == 0 and "install" in answer.stdout,
          f"--help answers ({time.monotonic() - started:.1f} s)")
    config = tmp / "config.yaml"
    config.write_text('client:\n  id: "370011"\n', encoding="utf-8")
    home = {"HOME": str(tmp / "home"), "XDG_CONFIG_HOME": ""}
    answer = run([str(program), "install", "--config", str(config)], home)
    entry = tmp / "home" / ".config" / "autostart" / "kiosk.desktop"
    check(answer.returncode == 0 and entry.is_file(), f"install wrote {entry.name}")
    check(f"Exec={program} --config {config}" in entry.read_text(encoding="utf-8"),
          "the autostart entry runs the built executable itself")
    answer = run([str(program), "uninstall"], home)
    check(answer.returncode == 0 and not entry.exists(), "uninstall removed it")


def check_on_screen(program: Path, tmp: Path) -> None:
    missing = xscreen.missing_tools()
    if missing:
        check(False, f"X tools for the on-screen check are missing: {missing}")
    (tmp / "clients.csv").write_text(
        f"hostname,mac,client_id\n{socket.gethostname()},,{CLIENT_ID}\n", encoding="utf-8")
    overrides = {"client": {"id": "auto", "map_file": "clients.csv"}}
    with xscreen.VirtualScreen(1280, 720) as screen:
        started = time.monotonic()
        kiosk = start_kiosk(screen, tmp, overrides, program=[str(program)], timeout=30)
        try:
            kiosk.wait_scene("A", "startup", timeout=30)
            check(True, f"started and showed page A ({time.monotonic() - started:.1f} s)")
            def drawn() -> tuple[float, ...] | None:
                mean = xscreen.region_mean(xscreen.screenshot(screen), 0, 0, 1280, 720)
                return mean if max(mean) > 10 else None

            try:
                mean = xscreen.wait_until(drawn, 10, interval=0.2, message="black")
            finally:
                xscreen.save_png(xscreen.screenshot(screen), SHOT)  # to look at
            check(True, f"the standby video is drawn, not black (mean BGR {mean[0]:.0f}, "
                        f"{mean[1]:.0f}, {mean[2]:.0f})")
            x, y, w, h = kiosk.geometry()
            check((x, y, w, h) == (0, 0, 1280, 720), f"the lock covers the screen ({w}x{h})")
            xscreen.wait_until(
                lambda: kiosk.state()["clients"].get(CLIENT_ID, {}).get("requests"), 10,
                interval=0.1, message="the simulator was never asked")
            check(set(kiosk.state()["clients"]) == {CLIENT_ID},
                  f"the server was asked about {CLIENT_ID} (this hostname in clients.csv) "
                  f"and no other id")
        finally:
            kiosk.stop()


def main(folder: Path) -> int:
    folder = folder.resolve()
    program = folder / ("kiosk.exe" if sys.platform == "win32" else "kiosk")
    check_files(folder, program)
    with tempfile.TemporaryDirectory(prefix="kiosk-dist-") as name:
        check_commands(program, Path(name))
        check_on_screen(program, Path(name))
    size_mb = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) // 2**20
    print(f"{folder} is good ({size_mb} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "dist" / "kiosk")))
