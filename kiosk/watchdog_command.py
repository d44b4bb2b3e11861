"""``main.py watchdog [--config PATH]`` and ``main.py watchdog install|uninstall``.

The first is what the service manager runs (also runnable in the foreground, as
root/an administrator); the others register or remove that service
(kiosk/platform/service.py). The watchdog logs to ``kiosk-watchdog.log`` in the
kiosk's log folder when that folder exists (it never creates the kiosk account's
folders), always to stderr (the journal, or the console).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk import config as kiosk_config
from kiosk.config import Config

log = logging.getLogger("kiosk")

STATUS_TIMEOUT_S = 0.8  # connect and read each: a locked restart waits 1.6 s at most


def parse(argv: list[str], default_config: Path, prog: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"{prog} watchdog",
        description="The kiosk's watchdog: reboots the PC (in a session) or starts the kiosk "
                    "again, locked, when every kiosk process is killed. Run by the system "
                    "as a service; install it with 'install' (administrator/root).")
    parser.add_argument("command", nargs="?", choices=("install", "uninstall"))
    parser.add_argument("--config", type=Path, default=default_config,
                        help="the kiosk's config file (default: %(default)s)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be done, do nothing")
    parser.add_argument("--method", choices=("systemd",),
                        help="Linux: install as a systemd system unit (the only way there)")
    parser.add_argument("--service", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def status_reader(cfg: Config) -> Callable[[], int | None]:
    """status_client's onlineStatus for this PC; None on any fault (never raises)."""
    def status() -> int | None:
        from kiosk import contract
        from kiosk.api import Api
        from kiosk.tls import Tls, Trust

        if cfg.embedded:
            return None  # the simulator went with the kiosk's guardian
        timeout = min(cfg.timeout_s, STATUS_TIMEOUT_S)
        try:
            api = Api(cfg.base_url, cfg.client_id, timeout_s=timeout,
                      status_value=cfg.status_value, method=cfg.method,
                      tls=Tls(Trust(cfg.ca_file, cfg.cert_sha256), timeout))
            answer = api.status()
        except Exception as exc:  # noqa: BLE001 (a fault means "unknown", never a crash)
            log.warning("watchdog: status_client failed: %s", exc)
            return None
        if isinstance(answer, contract.Status):
            log.info("watchdog: status_client says onlineStatus %d", answer.online_status)
            return answer.online_status
        log.warning("watchdog: status_client gave no status (%s)", answer)
        return None

    return status


def processes_for(cfg: Config) -> Any:
    """The platform's hold on the kiosk's processes."""
    from kiosk.platform.watch import LinuxProcesses, Rules

    if sys.platform == "win32":
        from kiosk.platform.watch_windows import WindowsProcesses

        return WindowsProcesses(Rules.here(cfg.path))
    return LinuxProcesses(Rules.here(cfg.path))


def run(cfg: Config, remote: Any = None, *, service: bool = False) -> int:
    """The watchdog process: the door for the admin exit, then the watch."""
    from kiosk.guardian import rebooter_for
    from kiosk.logs import Trace
    from kiosk.watchdog import Watchdog
    from kiosk.watchdog_door import Door

    rebooter = rebooter_for(cfg, Trace(cfg.trace, remote, create=False))
    door = Door.open_for(cfg)
    watchdog = Watchdog(cfg, processes_for(cfg), rebooter, status_reader(cfg),
                        admin_exits=door.last_exit if door else lambda: None)

    def stop(*_: object) -> None:
        watchdog.stop()
        watchdog.processes.wake()

    try:
        if service:
            from kiosk.platform.scm import run_as_service

            return run_as_service(watchdog.run, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        return watchdog.run()
    finally:
        if door is not None:
            door.close()


def main(argv: list[str], *, default_config: Path, prog: str,
         start_remote: Callable[[Config, str], Any]) -> int:
    from kiosk import identity, logs
    from kiosk.platform.machine import this_machine

    args = parse(argv, default_config, prog)
    config = args.config.expanduser().resolve()
    if args.command is not None:
        from kiosk.platform.service import main as service

        return service([args.command], config=config, dry_run=args.dry_run,
                       method=args.method)
    try:
        data = kiosk_config.read_yaml(config)
        log_dir = kiosk_config.log_dir_of(data, config.parent)
        logs.setup(log_dir if log_dir.is_dir() else None, "kiosk-watchdog")
        cfg = kiosk_config.load(config, data)
        cfg, unregistered = identity.identify(cfg, this_machine)
    except kiosk_config.ConfigError as exc:
        log.error("%s", exc)  # logging is set up before load: one line on stderr and the log
        return 2
    remote = start_remote(cfg, "unregistered" if unregistered else cfg.client_id)
    return run(cfg, remote, service=args.service)
