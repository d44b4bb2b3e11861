"""The venue checks of ``main.py check``: small functions, each looking at one thing.

Each takes the ``Context`` (the config, this PC's id, the server to ask, and what one
check found that another needs, fetched once) and returns what it ``Found``, or None
when it does not apply. Nothing here changes the server (``offline`` and ``clientStatus`` are
never sent), takes the screen (no window, no keyboard hook), or takes the kiosk's lock.
To add a check, write ``def my_check(ctx: Context) -> Found`` (``passed(…)`` or
``failed(…, what to do)``) and list it in ``CHECKS`` with the name its line shows.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk import contract
from kiosk.check import venue
from kiosk.check.report import Found, failed, passed
from kiosk.config import Config, ConfigError
from kiosk.identity import Identity, Unregistered
from kiosk.media import BACKGROUND, VIDEO, Fetch, Item, MediaCache
from kiosk.platform.autostart import Autostart, AutostartError, run_quietly
from kiosk.platform.disks import disk_of
from kiosk.platform.maintenance import Maintenance
from kiosk.platform.reboot import reboot_plan

STATUS_WORDS = {contract.WAITING: "no session (onlineStatus 1)",
                contract.IN_SESSION: "a session is running (onlineStatus 2)",
                contract.ENDED_UNPAID: "the last session is unpaid (onlineStatus 3)"}
REACH_FIX = "check server.base_url and that this PC reaches the backend"
NO_SCREEN = frozenset({"offscreen", "dummy", "evdev"})  # SDL's drivers that show nothing


@dataclass
class Display:
    """What SDL says about the screen, found without opening a window."""

    driver: str | None = None
    size: tuple[int, int] | None = None
    problem: str | None = None


@dataclass
class Context:
    """What the checks share; what one fetches the others reuse (each fetched once)."""

    config: Config
    found: Identity | Unregistered | ConfigError
    server_url: str
    server_note: str = ""  # how the embedded simulator was found
    folder: Path = field(default_factory=Path)  # the check's own scratch folder
    config_warnings: list[str] = field(default_factory=list)
    install_hint: str = "python main.py install"
    platform: str = sys.platform
    home: Path = field(default_factory=Path.home)
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    run: Callable[..., Any] = run_quietly  # system tools (schtasks, systemctl)
    which: Callable[[str], str | None] = shutil.which
    load_win32: Callable[[], Any] | None = None  # the keyboard hook's DLLs (tests: a fake)
    policies: Callable[[], Any] | None = None  # this PC's registry and token (tests: a fake)
    _memo: dict[str, Any] = field(default_factory=dict)
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def client_id(self) -> str | None:
        return self.found.client_id if isinstance(self.found, Identity) else None

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()``'s value, made by whichever check asks first."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._memo:
                self._memo[key] = make()
            return self._memo[key]

    def api(self) -> Any:
        from kiosk.api import Api

        cfg = self.config
        files = None if cfg.embedded else cfg.files_base_url
        return self.once("api", lambda: Api(self.server_url, self.client_id or "",
                                            timeout_s=cfg.timeout_s,
                                            status_value=cfg.status_value,
                                            files_base_url=files))

    def status(self) -> contract.StatusAnswer | None:
        if self.client_id is None:
            return None
        return self.once("status", lambda: self.api().status())

    def fetched(self, item: Item) -> Fetch:
        """The server's copy of ``item``, downloaded into the scratch folder and checked."""
        cfg = self.config
        base = self.server_url if cfg.embedded else cfg.files_base_url or self.server_url
        cache = MediaCache(self.folder, base, cfg.timeout_s, within_s=2 * cfg.timeout_s + 2)
        return self.once(f"fetch {item.name}", lambda: cache.fetch(item))

    def this_pc(self) -> Any:
        """This Windows PC's registry and account token (kiosk/platform/policies.py)."""
        from kiosk.platform.policies import ThisPC

        return self.once("policies", self.policies or ThisPC)

    def display(self) -> Display:
        """SDL's video driver and screen, without a window (call it on the main thread)."""
        return self.once("display", _probe_display)


def _probe_display() -> Display:
    import pygame

    from kiosk.cover import apply_hints

    apply_hints()  # SDL sees the screen as the kiosk does (Windows: in physical pixels)
    try:
        pygame.display.init()
        sizes = pygame.display.get_desktop_sizes()
        return Display(pygame.display.get_driver(), sizes[0] if sizes else None)
    except pygame.error as exc:
        return Display(problem=str(exc) or "SDL found no display")
    finally:
        pygame.display.quit()


def _demo(ctx: Context) -> bool:
    """Against the embedded simulator the config is a demo: a window, no reboot, are fine."""
    return ctx.config.embedded


# --- the config and this PC --------------------------------------------------------------


def config_valid(ctx: Context) -> Found:
    if ctx.config_warnings:
        return failed("; ".join(ctx.config_warnings),
                      "correct or remove those keys (most likely typing mistakes)")
    return passed(f"{ctx.config.path} is valid")


def client_id(ctx: Context) -> Found:
    found = ctx.found
    if isinstance(found, ConfigError):
        return failed(str(found).rstrip("."), "fix that line")
    if isinstance(found, Unregistered):
        machine = found.machine
        return failed(f"this PC is not registered: hostname {machine.hostname or '?'}, MAC "
                      f"{', '.join(machine.macs) or 'none'}",
                      f"add the line {found.line}<id> to {found.file_name}")
    return passed(f"{found.client_id} (from {found.source})")


# --- the six calls -----------------------------------------------------------------------


def status_client(ctx: Context) -> Found:
    answer = ctx.status()
    where = f"{ctx.server_url}{ctx.server_note}"
    if answer is None:
        return failed("not asked: this PC has no clientId",
                      "register it first (client id)")
    if isinstance(answer, contract.Status):
        words = STATUS_WORDS.get(answer.online_status, f"onlineStatus {answer.online_status}")
        return passed(f"{where} answers for client {ctx.client_id}: {words}")
    if isinstance(answer, contract.NotFound):
        return failed(f'{where} answers {{"data":0}}: it finds no user for client '
                      f"{ctx.client_id}",
                      "check that client.id is this PC's id in the backend")
    if isinstance(answer, contract.ForeignAnswer):
        return failed(f"{where} answers for client {answer.client_id}, not for "
                      f"{ctx.client_id}",
                      "the backend mixes clients up; ask its operator")
    return failed(f"{where}: {_fault(answer)}", REACH_FIX)


def _fault(fault: contract.NetworkFault) -> str:
    return f"no usable answer ({fault.kind}{': ' + fault.detail if fault.detail else ''})"


def _unsent(why: str) -> Callable[[Context], Found]:
    """``clientStatus`` and ``offline`` change the server: the check never sends them, and
    judges them by the server they share with ``status_client``."""

    def check(ctx: Context) -> Found:
        answer = ctx.status()
        reached = answer is not None and not isinstance(answer, contract.NetworkFault)
        note = f"not sent by the check ({why})"
        if reached:
            return passed(f"{note}; its server answers status_client")
        return failed(f"{note}; its server gave status_client no usable answer",
                      REACH_FIX)

    return check


def service_num(ctx: Context) -> Found:
    answer = ctx.once("service", lambda: ctx.api().service_number())
    if isinstance(answer, contract.NetworkFault):
        return failed(_fault(answer), REACH_FIX)
    if answer.number is None:
        return failed("the backend has no service number (the pages show none)",
                      "set it in the backend")
    return passed(f"service number {answer.number}")


def _media_call(item: Item) -> Callable[[Context], Found]:
    def check(ctx: Context) -> Found:
        got = ctx.fetched(item)
        if got.missing:
            return passed("the server has none (the bundled one shows)")
        if got.problem is not None:
            return failed(f"GET {item.url_path}: {got.problem}",
                          "check server.files_base_url (or base_url) and the file there")
        return passed(f"GET {item.url_path}: {got.size} bytes, it decodes")

    return check


# --- what the screen shows ---------------------------------------------------------------


def _shown(item: Item) -> Callable[[Context], Found]:
    """Which copy of ``item`` the kiosk shows now, and whether it is the server's."""

    def check(ctx: Context) -> Found:
        cfg = ctx.config
        current = MediaCache(cfg.cache_dir, ctx.server_url, cfg.timeout_s).current(item)
        got = ctx.fetched(item)
        server_copy = ctx.folder / item.cache_name
        if not item.check(current):
            return failed(f"{current} does not decode",
                          "delete it: the kiosk fetches it again")
        if current == item.bundled:
            if got.swapped:
                return failed("the server's is not downloaded yet (the bundled one shows)",
                              "start the kiosk and give it media.refresh_s; check that "
                              "media.cache_dir is writable")
            why = "the server has none" if got.missing else "no server copy to compare"
            return passed(f"the bundled one decodes ({why})")
        if got.swapped and not filecmp.cmp(current, server_copy, shallow=False):
            return failed(f"{current} is older than the server's",
                          "the kiosk fetches the new one within media.refresh_s")
        same = "the server's current one" if got.swapped else "downloaded earlier"
        return passed(f"{current} decodes ({same})")

    return check


# --- the PC ------------------------------------------------------------------------------


def reboot(ctx: Context) -> Found:
    cfg = ctx.config
    if cfg.reboot_mode == "simulate":
        if _demo(ctx):
            return passed("simulate (a demo: only 系统重启中 shows)")
        return failed("reboot.mode is simulate: the PC never reboots after a session",
                      "set reboot.mode: system")
    plan = reboot_plan(cfg.reboot_mode, cfg.reboot_command, ctx.platform)
    found = [(argv, ctx.which(argv[0])) for argv in plan]
    usable = [(argv, path) for argv, path in found if path]
    if not usable:
        names = " or ".join(argv[0] for argv in plan)
        key = "reboot.command" if cfg.reboot_mode == "command" else "reboot.mode"
        return failed(f"{cfg.reboot_mode}: {names} not found",
                      f"check {key} (a full path helps)")
    argv, path = usable[0]
    return passed(f"{cfg.reboot_mode}: {' '.join(argv)} ({path}; not run)")


def autostart(ctx: Context) -> Found:
    job = Autostart(ctx.config.path, ctx.platform, ctx.home, ctx.environ, run=ctx.run)
    try:
        ok, detail = job.status()
    except (AutostartError, OSError) as exc:
        ok, detail = False, str(exc).rstrip(".")
    where = " (as administrator)" if ctx.platform == "win32" else ""
    return Found(ok, detail, f"{ctx.install_hint} --config {ctx.config.path}{where}")


def watchdog(ctx: Context) -> Found:
    """The service that acts when every kiosk process is killed (kiosk/watchdog.py)."""
    from kiosk.platform.service import Service

    try:
        ok, detail = Service(ctx.config.path, ctx.platform, run=ctx.run).status()
    except (AutostartError, OSError) as exc:
        ok, detail = False, str(exc).rstrip(".")
    command = ctx.install_hint.replace(" install", " watchdog install")
    how = " (as administrator)" if ctx.platform == "win32" else " --method systemd (as root)"
    return Found(ok, detail, f"{command} --config {ctx.config.path}{how}: without it, "
                             f"killing every kiosk process at once unlocks the PC")


def maintenance(ctx: Context) -> Found:
    guard = ctx.config.guard
    why = Maintenance(guard.maintenance_flag_file, guard.maintenance_registry_flags,
                      ctx.platform).reason()
    if why is None:
        return passed("off")
    return failed(f"on ({why}): the PC does not reboot after sessions",
                  "delete the flag file, or leave the diskless system's super admin mode, "
                  "before customers use this PC")


def _folder(key: str, folder_of: Callable[[Config], Path | None]
            ) -> Callable[[Context], Found | None]:
    """Whether the kiosk can write there, and which disk it is (restore wipes some)."""

    def check(ctx: Context) -> Found | None:
        folder = folder_of(ctx.config)
        if folder is None:
            return None
        probe = folder / f".kiosk-check-{os.getpid()}-{key}"  # log.dir may hold the trace
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"check")
            probe.unlink()
        except OSError as exc:
            return failed(f"{folder} is not writable ({exc.strerror or exc})",
                          f"set {key} to a folder this account can write")
        return passed(f"{folder} is writable, on {disk_of(folder, ctx.platform)}")

    return check


def _tls(key: str) -> Callable[[Context], Found | None]:
    """How the certificate of the server at ``server.base_url`` or ``server.files_base_url``
    is trusted, and whether it passes (kiosk/tls.py); None for a files_base_url not set."""

    def check(ctx: Context) -> Found | None:
        from kiosk.tls import Trust, describe

        url = ctx.server_url if key == "server.base_url" else ctx.config.files_base_url
        if url is None:
            return None  # the files come from base_url: its line says it all
        cfg = ctx.config
        state = describe(url, Trust(cfg.ca_file, cfg.cert_sha256), cfg.timeout_s)
        text = "; ".join(part.strip() for part in state.lines())
        if state.ok is not False:
            return passed(text)
        if state.certificate is None:
            return failed(text, f"check {key} and that this PC reaches it")
        return failed(text, "ask the backend's operator whether that fingerprint is the "
                            "server's, then add the line under server: in config.yaml")

    return check


def remote_log(ctx: Context) -> Found:
    from kiosk import remote_log as remote
    from kiosk.platform.machine import hostname

    target = ctx.config.log_remote
    if target is None:
        return passed("off (log.remote is not set)")
    host = hostname()
    data = remote.message(
        ts=time.time(), severity=remote.NOTICE, hostname=host, procid=os.getpid(),
        msgid="check", params={"clientId": ctx.client_id or "unregistered", "event": "check"},
        text=f"client {ctx.client_id}: main.py check on {host}: the collector is reachable",
        limit=remote.UDP_LIMIT)
    problem = remote.probe(target, data)
    if problem is not None:
        return failed(f"{target}: {problem}",
                      "start the collector, or check log.remote and the firewall")
    return passed(f"{target} took a test message (msgid check, from {host})")


def full_screen(ctx: Context) -> Found:
    shown = ctx.display()
    if shown.problem is not None or shown.driver in NO_SCREEN:
        return failed(f"no display: {shown.problem or f'SDL found only {shown.driver}'}",
                      "run the check in the desktop session the kiosk runs in")
    size = f", screen {shown.size[0]}×{shown.size[1]}" if shown.size else ""
    where = f"the display answers (SDL {shown.driver}{size}; no window was opened)"
    if not ctx.config.fullscreen and not _demo(ctx):
        return failed(f"{where}, but display.fullscreen is false: pages A, B, D and E "
                      "do not cover the screen",
                      "set display.fullscreen: true")
    return passed(where)


def keyboard_lock(ctx: Context) -> Found:
    shown = ctx.display()
    if shown.problem is not None or shown.driver in NO_SCREEN:
        return failed("no display for SDL's keyboard grab",
                      "run the check in the desktop session the kiosk runs in")
    grab = f"SDL's keyboard grab ({shown.driver}) is taken with the window"
    if ctx.platform != "win32":
        return passed(grab)
    from kiosk.platform.keyboard import declare, load_win32

    try:
        user32, kernel32 = (ctx.load_win32 or load_win32)()
        declare(user32, kernel32)
    except (OSError, AttributeError) as exc:
        return failed(f"the keyboard hook cannot be set: {exc}",
                      "the system keys would reach the desktop; check this Windows build")
    return passed("the keyboard hook's functions load (user32 SetWindowsHookExW; none "
                  f"installed now); {grab}")


# --- what only the venue can set (Windows) -----------------------------------------------


def _windows_only(look: Callable[[Any], Found]) -> Callable[[Context], Found]:
    """A Windows setting, judged from this PC's registry or token; elsewhere it says so. A
    demo (the embedded simulator) needs no lock-down: its line still says what is set."""

    def check(ctx: Context) -> Found:
        if ctx.platform != "win32":
            return passed(venue.NOT_HERE)
        found = look(ctx.this_pc())
        if not found.ok and _demo(ctx):
            return passed(f"{found.detail}; not needed for a demo against the embedded "
                          "simulator")
        return found

    return check


def _policy(setting: venue.Setting) -> Callable[[Context], Found]:
    def look(pc: Any) -> Found:
        return venue.judge(setting, {hive: pc.registry.value(hive, setting.key, setting.value)
                                     for hive in setting.hives})

    return _windows_only(look)


def _powershell(pc: Any) -> Found:
    key = f"{venue.EXPLORER}\\DisallowRun"
    return venue.judge_powershell(pc.registry.value("HKCU", venue.EXPLORER, "DisallowRun"),
                                  pc.registry.strings("HKCU", key))


def _account(pc: Any) -> Found:
    import getpass

    user = getpass.getuser()
    try:
        token = pc.token()
    except OSError as exc:
        return failed(f"cannot read this account's rights: {exc}", venue.ACCOUNT_FIX)
    return venue.judge_account(user, token)


CHECKS: list[tuple[str, Callable[[Context], Found | None]]] = [
    ("config", config_valid),
    ("client id", client_id),
    ("TLS base_url", _tls("server.base_url")),
    ("TLS files_base_url", _tls("server.files_base_url")),
    ("status_client", status_client),
    ("clientStatus", _unsent("it reports this PC as in use")),
    ("offline", _unsent("it would end a session")),
    ("serviceNum", service_num),
    ("background.png", _media_call(BACKGROUND)),
    ("video.mp4", _media_call(VIDEO)),
    ("background shown", _shown(BACKGROUND)),
    ("standby video", _shown(VIDEO)),
    ("reboot", reboot),
    ("autostart", autostart),
    ("watchdog", watchdog),
    ("maintenance mode", maintenance),
    ("log folder", _folder("log.dir", lambda cfg: cfg.log_dir)),
    ("cache folder", _folder("media.cache_dir", lambda cfg: cfg.cache_dir)),
    ("trace folder", _folder("log.trace", lambda cfg: cfg.trace.parent if cfg.trace else None)),
    ("remote log", remote_log),
    ("full screen", full_screen),
    ("keyboard lock", keyboard_lock),
    ("standard account", _windows_only(_account)),
    *[(setting.name, _policy(setting)) for setting in venue.SETTINGS],
    ("PowerShell", _windows_only(_powershell)),
]
