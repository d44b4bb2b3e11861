"""``python main.py install|uninstall [--dry-run]``: start the kiosk at logon, or stop doing so.

Windows: a scheduled task at logon with highest privileges (``schtasks /RL HIGHEST``),
so on an administrator account the kiosk runs elevated and a standard-rights process
of the customer's cannot end it; Task Scheduler's 72-hour limit is lifted.
Linux: an XDG autostart entry by default, since every desktop's session starts
those once the display is up; a systemd user unit (``--method systemd``) only
starts on desktops that reach ``graphical-session.target``.

Both commands are idempotent and print each thing they do; uninstall removes only
what install made (its files carry a marker, the task has our name).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.platform.process import MAIN_PY

TASK_NAME = "ScanKiosk"
TASK_RUN_MAX = 261  # schtasks refuses a longer /TR
# Task Scheduler defaults that a kiosk must not keep: it would stop the kiosk after
# 72 hours, and not start it (or stop it) on a PC running on battery.
KIOSK_SETTINGS = {"ExecutionTimeLimit": "PT0S", "DisallowStartIfOnBatteries": "false",
                  "StopIfGoingOnBatteries": "false"}
DESKTOP_FILE = "kiosk.desktop"
UNIT_FILE = "kiosk.service"
MARKER = "X-Kiosk-Installed-By=main.py install"  # in every file we write (a frozen build too)
METHODS = ("xdg", "systemd")

Run = Callable[[Sequence[str]], subprocess.CompletedProcess]


class AutostartError(Exception):
    """The step could not be done; the message says what to try."""


def run_quietly(argv: Sequence[str]) -> subprocess.CompletedProcess:
    """Run a system tool, capturing its output (schtasks speaks the console code page)."""
    try:
        return subprocess.run(list(argv), capture_output=True, timeout=60, check=False)
    except FileNotFoundError as exc:
        raise AutostartError(f"{argv[0]} was not found on this machine.") from exc
    except subprocess.TimeoutExpired as exc:
        raise AutostartError(f"{argv[0]} did not finish within 60 s.") from exc


def launch_argv(config: Path, *, platform: str = sys.platform, frozen: bool | None = None,
                executable: str | None = None) -> list[str]:
    """What autostart runs: a frozen build's own executable, else Python with main.py,
    with the absolute config path (the same shape as process.self_argv)."""
    frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    program = Path(executable or sys.executable)
    if platform == "win32":
        # A console program opens a console window behind the kiosk: use the windowed
        # twin (kiosk.exe beside kiosk-console.exe, pythonw.exe beside python.exe).
        twin = program.parent / ("kiosk.exe" if frozen else "pythonw.exe")
        program = twin if twin.exists() else program
    args = ["--config", str(config)]
    return [str(program), *args] if frozen else [str(program), str(MAIN_PY), *args]


# --- Windows: a scheduled task ----------------------------------------------------------


def task_run(argv: Sequence[str]) -> str:
    """The ``/TR`` text: the command line, quoted the way Windows programs split it."""
    line = subprocess.list2cmdline(list(argv))
    if len(line) > TASK_RUN_MAX:
        raise AutostartError(f"the command line is {len(line)} characters, more than schtasks "
                             f"accepts ({TASK_RUN_MAX}); move the kiosk folder to a shorter "
                             f"path such as C:\\kiosk.")
    return line


def create_task_argv(line: str, user: str | None) -> list[str]:
    """``schtasks /Create``: at every logon, highest privileges, replacing our old task."""
    argv = ["schtasks", "/Create", "/TN", TASK_NAME, "/TR", line, "/SC", "ONLOGON",
            "/RL", "HIGHEST", "/F"]
    if user:
        argv += ["/RU", user, "/IT"]  # /IT: runs in that user's session, no password stored
    return argv


def decode(raw: bytes | str) -> str:
    """schtasks writes UTF-16 to some pipes and the console code page to others."""
    if isinstance(raw, str):
        return raw
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or raw[1:2] == b"\x00":
        return raw.decode("utf-16", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("mbcs" if sys.platform == "win32" else "latin-1", errors="replace")


def _flat(command_line: str) -> str:
    return " ".join(command_line.replace('"', " ").split()).lower()


def _element(xml: str, name: str) -> str:
    found = re.search(rf"<{name}>(.*?)</{name}>", xml, re.DOTALL)
    return found.group(1).replace("&quot;", '"').replace("&amp;", "&") if found else ""


def _settings(xml: str) -> re.Match[str]:
    found = re.search(r"<Settings>.*?</Settings>", xml, re.DOTALL)
    if found is None:
        raise AutostartError("schtasks /Query /XML gave a task without <Settings>.")
    return found


def task_matches(xml: str, line: str) -> bool:
    """Whether the task's XML runs ``line`` at logon with highest privileges, for good."""
    command = f"{_element(xml, 'Command')} {_element(xml, 'Arguments')}"
    settings = re.search(r"<Settings>.*?</Settings>", xml, re.DOTALL)
    return ("<LogonTrigger" in xml and _element(xml, "RunLevel") == "HighestAvailable"
            and _flat(command) == _flat(line) and settings is not None
            and all(_element(settings.group(0), name) == value
                    for name, value in KIOSK_SETTINGS.items()))


def with_kiosk_settings(xml: str) -> str:
    """The task XML with KIOSK_SETTINGS in its <Settings>, each replaced or added."""
    block = _settings(xml)
    settings = block.group(0)
    for name, value in KIOSK_SETTINGS.items():
        element = f"<{name}>{value}</{name}>"
        if f"<{name}>" in settings:
            settings = re.sub(rf"<{name}>.*?</{name}>", element, settings, count=1,
                              flags=re.DOTALL)
        else:
            settings = settings.replace("<Settings>", f"<Settings>\n    {element}", 1)
    return xml[:block.start()] + settings + xml[block.end():]


# --- Linux: an XDG autostart entry or a systemd user unit --------------------------------


def desktop_exec(argv: Sequence[str]) -> str:
    """``Exec=`` per the Desktop Entry spec: quote reserved characters, double ``%``,
    then escape backslashes once more as the spec's string rule asks."""
    def quote(arg: str) -> str:
        if arg and not re.search(r"[\s\"'\\><~|&;$*?#()`]", arg):
            return arg
        return '"' + re.sub(r'(["`$\\])', r"\\\1", arg) + '"'

    return " ".join(quote(a) for a in argv).replace("%", "%%").replace("\\", "\\\\")


def desktop_entry(argv: Sequence[str]) -> str:
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Name=扫码上机 kiosk",
        "Comment=Locks this PC until a paid session starts",
        f"Exec={desktop_exec(argv)}",
        "Terminal=false",
        "X-GNOME-Autostart-enabled=true",
        MARKER,
        "",
    ])


def systemd_exec(argv: Sequence[str]) -> str:
    """``ExecStart=``: every argument double-quoted, ``%`` and ``$`` doubled (no expansion)."""
    def quote(arg: str) -> str:
        return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return " ".join(quote(a) for a in argv).replace("%", "%%").replace("$", "$$")


def systemd_unit(argv: Sequence[str]) -> str:
    return "\n".join([
        f"# {MARKER}",
        "[Unit]",
        "Description=扫码上机 kiosk client",
        "PartOf=graphical-session.target",
        "After=graphical-session.target",
        "",
        "[Service]",
        f"ExecStart={systemd_exec(argv)}",
        # The guardian restarts the screen itself; this covers the guardian dying.
        "Restart=on-failure",
        "RestartSec=5",
        "RestartPreventExitStatus=2",  # a config error: restarting cannot fix it
        "",
        "[Install]",
        "WantedBy=graphical-session.target",
        "",
    ])


def config_home(home: Path, environ: dict[str, str]) -> Path:
    value = environ.get("XDG_CONFIG_HOME", "")
    return Path(value) if value and Path(value).is_absolute() else home / ".config"


# --- doing it ----------------------------------------------------------------------------


@dataclass
class Autostart:
    """One install or uninstall run; ``run`` and the paths are injected for tests."""

    config: Path
    platform: str
    home: Path
    environ: dict[str, str]
    run: Run = run_quietly
    dry_run: bool = False
    out: Callable[[str], None] = print
    argv: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.argv = self.argv or launch_argv(self.config, platform=self.platform)
        base = config_home(self.home, self.environ)
        self.desktop_path = base / "autostart" / DESKTOP_FILE
        self.unit_path = base / "systemd" / "user" / UNIT_FILE

    def say(self, done: str, planned: str) -> None:
        self.out(f"would {planned}" if self.dry_run else done)

    def change(self, argv: Sequence[str], done: str, planned: str) -> None:
        """Run a command that changes the system (not in a dry run)."""
        if not self.dry_run:
            answer = self.run(argv)
            if answer.returncode != 0:
                text = decode(answer.stderr or answer.stdout).strip() or f"code {answer.returncode}"
                raise AutostartError(f"{' '.join(argv[:3])} failed: {text}")
        self.say(done, planned)

    # Windows

    def task_xml(self) -> str | None:
        """Our task's XML, or None when there is none. Windows' schtasks answers a missing
        task with exit code 1; Wine 8's answers every /Query with 0 and no output, which is
        no task either (a task's XML is never empty)."""
        query = self.run(["schtasks", "/Query", "/TN", TASK_NAME, "/XML"])
        xml = decode(query.stdout or b"") if query.returncode == 0 else ""
        return xml if xml.strip() else None

    def install_windows(self, user: str | None) -> None:
        line = task_run(self.argv)
        xml = self.task_xml()
        if xml is not None and task_matches(xml, line):
            self.out(f"already installed: scheduled task {TASK_NAME} runs {line} at logon "
                     f"with highest privileges; nothing changed")
            return
        what = "created" if xml is None else "replaced"
        self.change(create_task_argv(line, user),
                    f"{what} scheduled task {TASK_NAME}: {line} at logon, highest privileges",
                    f"{what[:-1]} scheduled task {TASK_NAME}: {line} at logon, "
                    f"highest privileges")
        self.lift_limits(line)

    def lift_limits(self, line: str) -> None:
        """schtasks /Create cannot set these: register the task's own XML again with
        KIOSK_SETTINGS (its principal is in the XML, so no password is asked)."""
        done = "lifted the task's 72-hour limit and its battery conditions"
        if self.dry_run:
            self.say(done, "lift the task's 72-hour limit and its battery conditions")
            return
        xml = self.task_xml()
        if xml is None:
            raise AutostartError(f"schtasks /Query failed after creating {TASK_NAME}.")
        if _flat(f"{_element(xml, 'Command')} {_element(xml, 'Arguments')}") != _flat(line):
            # Read back in another code page, a path with accents would be registered wrong.
            raise AutostartError(f"the task {TASK_NAME} was created, but its XML did not read "
                                 f"back as {line}; in Task Scheduler untick 'Stop the task if it "
                                 f"runs longer than' and the power conditions by hand")
        with tempfile.TemporaryDirectory(prefix="kiosk-task-") as folder:
            path = Path(folder) / "task.xml"
            # The XML declares UTF-16; schtasks /XML reads it so (with its BOM).
            path.write_text(with_kiosk_settings(xml), encoding="utf-16")
            self.change(["schtasks", "/Create", "/TN", TASK_NAME, "/XML", str(path), "/F"],
                        done, "")

    def uninstall_windows(self) -> None:
        if self.task_xml() is None:
            self.out(f"not installed: there is no scheduled task {TASK_NAME}; nothing changed")
            return
        self.change(["schtasks", "/Delete", "/TN", TASK_NAME, "/F"],
                    f"removed scheduled task {TASK_NAME}", f"remove scheduled task {TASK_NAME}")

    # Linux

    def write(self, path: Path, text: str) -> bool:
        """Write ``path`` unless it already holds ``text``; whether anything changed."""
        old = path.read_text(encoding="utf-8", errors="replace") if path.exists() else None
        if old == text:
            return False
        if old is not None and MARKER not in old:
            raise AutostartError(f"{path} exists and was not made by main.py install; "
                                 f"move it away first.")
        verb = "create" if old is None else "update"
        if not self.dry_run:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        self.say(f"{verb}d {path}", f"{verb} {path}")
        return True

    def ours(self, path: Path) -> bool:
        return path.exists() and MARKER in path.read_text(encoding="utf-8", errors="replace")

    def remove(self, path: Path) -> None:
        if not self.dry_run:
            path.unlink()
            if not any(path.parent.iterdir()):
                path.parent.rmdir()  # install made it (or it held nothing anyway)
        self.say(f"removed {path}", f"remove {path}")

    def systemctl(self, *args: str) -> list[str]:
        return ["systemctl", "--user", *args]

    def remove_unit(self) -> None:
        self.change(self.systemctl("disable", UNIT_FILE), f"disabled {UNIT_FILE}",
                    f"disable {UNIT_FILE}")
        self.remove(self.unit_path)
        self.change(self.systemctl("daemon-reload"), "reloaded the systemd user units",
                    "reload the systemd user units")

    def install_linux(self, method: str) -> None:
        """One autostart only: installing one method removes our entry of the other, so the
        kiosk is never started twice at logon."""
        if method == "xdg":
            if not self.write(self.desktop_path, desktop_entry(self.argv)):
                self.out(f"already installed: {self.desktop_path} is up to date; "
                         f"nothing changed")
            if self.ours(self.unit_path):
                self.remove_unit()
            return
        changed = self.write(self.unit_path, systemd_unit(self.argv))
        enabled = self.run(self.systemctl("is-enabled", UNIT_FILE)).returncode == 0
        if changed:
            self.change(self.systemctl("daemon-reload"), "reloaded the systemd user units",
                        "reload the systemd user units")
        if changed or not enabled:
            self.change(self.systemctl("enable", UNIT_FILE),
                        f"enabled {UNIT_FILE} (starts with the graphical session)",
                        f"enable {UNIT_FILE} (starts with the graphical session)")
        else:
            self.out(f"already installed: {self.unit_path} is up to date and enabled; "
                     f"nothing changed")
        if self.ours(self.desktop_path):
            self.remove(self.desktop_path)

    # Looking only (``main.py check``)

    def status(self) -> tuple[bool, str]:
        """Whether autostart starts this program with this config, and how; changes nothing."""
        if self.platform == "win32":
            line = task_run(self.argv)
            xml = self.task_xml()
            if xml is None:
                return False, f"there is no scheduled task {TASK_NAME}"
            if task_matches(xml, line):
                return True, (f"scheduled task {TASK_NAME} runs {line} at logon with highest "
                              f"privileges")
            return False, (f"scheduled task {TASK_NAME} does not run {line} at logon with "
                           f"highest privileges and no time limit")
        if self.ours(self.desktop_path):
            if self.desktop_path.read_text(encoding="utf-8") == desktop_entry(self.argv):
                return True, f"{self.desktop_path} starts it at logon"
            return False, f"{self.desktop_path} starts another program or config"
        if self.ours(self.unit_path):
            if self.unit_path.read_text(encoding="utf-8") != systemd_unit(self.argv):
                return False, f"{self.unit_path} starts another program or config"
            if self.run(self.systemctl("is-enabled", UNIT_FILE)).returncode != 0:
                return False, f"{self.unit_path} is there but not enabled"
            return True, f"{self.unit_path} is enabled (starts with the graphical session)"
        return False, "neither an XDG autostart entry nor a systemd user unit of ours"

    def uninstall_linux(self) -> None:
        found = False
        for path in (self.desktop_path, self.unit_path):
            if path.exists() and not self.ours(path):
                self.out(f"left {path} alone: it was not made by main.py install")
        if self.ours(self.desktop_path):
            self.remove(self.desktop_path)
            found = True
        if self.ours(self.unit_path):
            self.remove_unit()
            found = True
        if not found:
            self.out("not installed: no autostart entry or unit of ours; nothing changed")


def main(argv: list[str], *, default_config: Path, prog: str = "main.py",
         platform: str = sys.platform, run: Run = run_quietly, home: Path | None = None) -> int:
    """The ``install`` / ``uninstall`` command line; 0 when done, 1 when a step failed."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Start the kiosk at logon (install) or stop doing so "
        "(uninstall). Windows: a scheduled task with highest privileges; Linux: an XDG "
        "autostart entry or a systemd user unit.")
    parser.add_argument("command", choices=("install", "uninstall"))
    parser.add_argument("--config", type=Path, default=default_config,
                        help="the config file the kiosk starts with (default: %(default)s)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be done, do nothing")
    parser.add_argument("--method", choices=METHODS, default="xdg",
                        help="Linux: an XDG autostart entry (default) or a systemd user unit")
    parser.add_argument("--user", help="Windows: the account the task runs as "
                                       "(default: the one running install)")
    args = parser.parse_args(argv)
    config = args.config.expanduser().resolve()
    if args.command == "install" and not config.is_file():
        print(f"kiosk: {config} does not exist; create it first (see "
              f"config.example-venue.yaml)", file=sys.stderr)
        return 2
    job = Autostart(config, platform, home or Path.home(), dict(os.environ), run=run,
                    dry_run=args.dry_run)
    try:
        if platform == "win32" and args.command == "install":
            job.install_windows(args.user)
        elif platform == "win32":
            job.uninstall_windows()
        elif args.command == "install":
            job.install_linux(args.method)
        else:
            job.uninstall_linux()
    except (AutostartError, OSError) as exc:
        print(f"kiosk: {args.command} failed: {exc}", file=sys.stderr)
        return 1
    return 0
