"""``main.py watchdog install|uninstall [--dry-run]``: the watchdog as a system service.

Windows: a service (``sc.exe``) running as LocalSystem, started automatically, restarted
on failure, whose DACL gives interactive, service and authenticated users only the
rights to query it (no start, stop or pause); its process is LocalSystem's, which a
standard user cannot open to terminate. Linux (``--method systemd``): a system unit
running as root, ``Restart=always``, in /etc/systemd/system. Both need an administrator
(root) to install; both are idempotent and print what they do, and ``status`` (for
``main.py check``) changes nothing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kiosk.platform.autostart import (
    MARKER,
    AutostartError,
    Run,
    decode,
    launch_argv,
    run_quietly,
    systemd_exec,
)

SERVICE = "KioskWatchdog"
DISPLAY_NAME = "ScanKiosk watchdog"  # ASCII: printed on any console code page
DESCRIPTION = ("Reboots the PC or starts the kiosk again, locked, when every kiosk process "
               "is killed.")
UNIT_DIR = Path("/etc/systemd/system")
UNIT = "kiosk-watchdog.service"
# The default service DACL, with the users' part spelled out: LocalSystem and the
# administrators keep full control; interactive (IU), service (SU) and authenticated
# (AU) users may query the config and status, enumerate dependents, interrogate and
# read the DACL (CC LC SW LO RC), but never start (RP), stop (WP) or pause (DT) it.
SDDL = ("D:(A;;CCLCSWRPWPDTLOCRRC;;;SY)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BA)"
        "(A;;CCLCSWLOCRRC;;;IU)(A;;CCLCSWLOCRRC;;;SU)(A;;CCLCSWLOCRRC;;;AU)")
RESTART_ACTIONS = "restart/1000/restart/1000/restart/1000"  # every failure, after a second
SC_NOT_RUNNING = 1062  # ERROR_SERVICE_NOT_ACTIVE
STATE = re.compile(r"STATE\s*:\s*(\d+)\s+(\w+)")
BINARY_PATH = re.compile(r"BINARY_PATH_NAME\s*:\s*(.+)")


def watchdog_argv(config: Path, *, service: bool, platform: str = sys.platform,
                  frozen: bool | None = None, executable: str | None = None) -> list[str]:
    """The service's command: this program's console twin (a service has no window) with
    ``watchdog`` and the config; ``--service`` makes it answer Windows' service manager."""
    program, *rest = launch_argv(config, platform="linux", frozen=frozen,
                                 executable=executable)
    frozen_build = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    head = [program] if frozen_build else [program, rest.pop(0)]  # main.py
    return [*head, "watchdog", *(["--service"] if service else []), *rest]


def sc_create_argv(line: str, name: str = SERVICE) -> list[str]:
    return ["sc.exe", "create", name, "binPath=", line, "start=", "auto", "obj=",
            "LocalSystem", "DisplayName=", DISPLAY_NAME]


def sc_config_argv(line: str, name: str = SERVICE) -> list[str]:
    """The same settings for a service that exists already (a moved folder, say)."""
    return ["sc.exe", "config", name, "binPath=", line, "start=", "auto", "obj=",
            "LocalSystem", "DisplayName=", DISPLAY_NAME]


def sc_setup_argvs(name: str = SERVICE) -> list[list[str]]:
    """After create: what it is, restart on every failure, and who may do what to it."""
    return [["sc.exe", "description", name, DESCRIPTION],
            ["sc.exe", "failure", name, "reset=", "86400", "actions=", RESTART_ACTIONS],
            ["sc.exe", "failureflag", name, "1"],  # also when it stops with an error code
            ["sc.exe", "sdset", name, SDDL]]


def sc_state(output: str) -> str | None:
    """RUNNING, STOPPED… from ``sc.exe query``; None when the text has no state."""
    found = STATE.search(output)
    return found.group(2) if found else None


def sc_binary_path(output: str) -> str | None:
    """The command line from ``sc.exe qc``; None when the text has none (Wine's sc)."""
    found = BINARY_PATH.search(output)
    return found.group(1).strip() if found else None


def unit_text(argv: Sequence[str]) -> str:
    return "\n".join([
        f"# {MARKER}",
        "[Unit]",
        f"Description={DISPLAY_NAME}",
        "After=network.target",
        "",
        "[Service]",
        f"ExecStart={systemd_exec(argv)}",
        "Restart=always",
        "RestartSec=1",
        # Stopping or restarting the watchdog ends the watchdog only, never the kiosk it
        # started (that runs on in the desktop user's name).
        "KillMode=process",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ])


@dataclass
class Service:
    """One install, uninstall or status look; ``run`` and the unit folder are injected."""

    config: Path
    platform: str = sys.platform
    run: Run = run_quietly
    dry_run: bool = False
    out: Callable[[str], None] = print
    unit_dir: Path = UNIT_DIR
    name: str = SERVICE  # the Windows service's name (tests under Wine use one of their own)

    @property
    def unit_path(self) -> Path:
        return self.unit_dir / UNIT

    def argv(self) -> list[str]:
        return watchdog_argv(self.config, service=self.platform == "win32",
                             platform=self.platform)

    def change(self, argv: Sequence[str], done: str, ok_codes: Sequence[int] = (0,)) -> int:
        """Run a command that changes the system (not in a dry run); its exit code."""
        if self.dry_run:
            self.out(f"would run: {subprocess.list2cmdline(list(argv))}")
            return 0
        answer = self.run(argv)
        if answer.returncode not in ok_codes:
            text = decode(answer.stderr or answer.stdout).strip() or f"code {answer.returncode}"
            raise AutostartError(f"{' '.join(argv[:3])} failed: {text}")
        if answer.returncode == 0:
            self.out(done)
        return answer.returncode

    # Windows

    def install_windows(self) -> None:
        line = subprocess.list2cmdline(self.argv())
        exists = self.run(["sc.exe", "query", self.name]).returncode == 0
        if exists:
            self.change(sc_config_argv(line, self.name), f"updated service {self.name}: {line}")
        else:
            self.change(sc_create_argv(line, self.name),
                        f"created service {self.name} (LocalSystem, automatic start): {line}")
        for argv in sc_setup_argvs(self.name):
            self.change(argv, f"{argv[1]}: done")
        self.change(["sc.exe", "start", self.name], f"started service {self.name}",
                    ok_codes=(0, 1056))  # 1056: ERROR_SERVICE_ALREADY_RUNNING

    def uninstall_windows(self) -> None:
        if not self.dry_run and self.run(["sc.exe", "query", self.name]).returncode != 0:
            self.out(f"not installed: there is no service {self.name}; nothing changed")
            return
        self.change(["sc.exe", "stop", self.name], f"stopped service {self.name}",
                    ok_codes=(0, SC_NOT_RUNNING))
        self.change(["sc.exe", "delete", self.name], f"removed service {self.name}")

    # Linux

    def systemctl(self, *args: str) -> list[str]:
        return ["systemctl", *args]

    def install_linux(self) -> None:
        text = unit_text(self.argv())
        path = self.unit_path
        old = path.read_text(encoding="utf-8", errors="replace") if path.exists() else None
        if old is not None and MARKER not in old:
            raise AutostartError(f"{path} exists and was not made by main.py watchdog install; "
                                 f"move it away first.")
        if old != text:
            if self.dry_run:
                self.out(f"would write {path}")
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                self.out(f"wrote {path}")
            self.change(self.systemctl("daemon-reload"), "reloaded the systemd units")
        self.change(self.systemctl("enable", "--now", UNIT),
                    f"enabled and started {UNIT} (runs as root, restarted always)")

    def uninstall_linux(self) -> None:
        path = self.unit_path
        if not path.exists() or MARKER not in path.read_text(encoding="utf-8",
                                                             errors="replace"):
            self.out(f"not installed: no {path} of ours; nothing changed")
            return
        self.change(self.systemctl("disable", "--now", UNIT), f"stopped and disabled {UNIT}")
        if self.dry_run:
            self.out(f"would remove {path}")
        else:
            path.unlink()
            self.out(f"removed {path}")
        self.change(self.systemctl("daemon-reload"), "reloaded the systemd units")

    # Looking only

    def status(self) -> tuple[bool, str]:
        """Whether the watchdog is installed for this config and running; changes nothing."""
        if self.platform == "win32":
            query = self.run(["sc.exe", "query", self.name])
            if query.returncode != 0:
                return False, f"there is no service {self.name}"
            state = sc_state(decode(query.stdout))
            line = subprocess.list2cmdline(self.argv())
            runs = sc_binary_path(decode(self.run(["sc.exe", "qc", self.name]).stdout))
            if runs is not None and " ".join(runs.split()).lower() != line.lower():
                return False, f"service {self.name} runs {runs}, not {line}"
            return state == "RUNNING", f"service {self.name} is {state or 'in an unknown state'}"
        path = self.unit_path
        if not path.exists():
            return False, f"there is no {path}"
        if path.read_text(encoding="utf-8", errors="replace") != unit_text(self.argv()):
            return False, f"{path} runs another program or config"
        if self.run(self.systemctl("is-active", "--quiet", UNIT)).returncode != 0:
            return False, f"{UNIT} is installed but not running"
        return True, f"{UNIT} runs as root"


def main(argv: list[str], *, config: Path, dry_run: bool, method: str | None,
         platform: str = sys.platform, run: Run = run_quietly,
         unit_dir: Path = UNIT_DIR) -> int:
    """``watchdog install|uninstall``; 0 when done, 1 when a step failed, 2 on misuse."""
    command = argv[0]
    if platform != "win32" and method != "systemd":
        print("kiosk: on Linux the watchdog is a systemd system unit: add --method systemd",
              file=sys.stderr)
        return 2
    if command == "install" and not config.is_file():
        print(f"kiosk: {config} does not exist; create it first", file=sys.stderr)
        return 2
    job = Service(config, platform, run=run, dry_run=dry_run, unit_dir=unit_dir)
    try:
        if platform == "win32":
            job.install_windows() if command == "install" else job.uninstall_windows()
        else:
            job.install_linux() if command == "install" else job.uninstall_linux()
    except (AutostartError, OSError) as exc:
        print(f"kiosk: watchdog {command} failed: {exc}", file=sys.stderr)
        return 1
    return 0
