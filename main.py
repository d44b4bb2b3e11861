"""Start the kiosk: ``python main.py [--config PATH]``; ``python main.py install|uninstall``
registers or removes its autostart (kiosk/platform/autostart.py).

This process becomes the guardian (and, with ``server.base_url: embedded``, hosts
the simulator); the guardian starts the UI as ``main.py --role ui``.
``python main.py hash-password`` prints the ``admin.password_hash`` line for a password;
``python main.py check [--json]`` checks that this PC is set up right (kiosk/check/).
``python main.py watchdog [install|uninstall]`` runs or registers the watchdog, the
system service that acts when every kiosk process is killed (kiosk/watchdog.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from kiosk import config, identity
    from kiosk.cover import Cover
    from kiosk.remote_log import RemoteLog

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # stdout is the guardian's pipe
# A frozen build's own files sit in its _internal folder; the operator's config.yaml
# sits next to the executable.
HERE = (Path(sys.executable) if getattr(sys, "frozen", False) else Path(__file__)).resolve().parent
PROG = "kiosk" if getattr(sys, "frozen", False) else "main.py"  # how the operator calls it
AUTOSTART_COMMANDS = ("install", "uninstall")
UNREGISTERED = "unregistered"  # the clientId in remote log lines of a PC no rule knows
WINDOW_FLAG = "--window"  # the guardian tells the UI its window: full, or WxH


def cover_first(argv: list[str]) -> Cover | None:
    """The UI's first act, before argparse, logging and the config are even loaded: black
    over the screen, so the desktop shows for as short a time as the machine allows at
    boot. None without ``--window`` (a UI started by hand) or if it cannot be made here;
    the UI then makes it once the config is read, where a failure is logged."""
    def value(flag: str) -> str | None:
        return argv[argv.index(flag) + 1] if flag in argv[:-1] else None

    window = value(WINDOW_FLAG)
    if value("--role") != "ui" or window is None:
        return None  # the guardian itself never shows a window
    from kiosk.cover import cover_screen, window_spec

    spec = window_spec(window)
    if spec is None:
        return None
    try:
        return cover_screen(*spec)
    except Exception:  # noqa: BLE001 (no log yet: App.run makes it again and logs why not)
        return None


def this_machine() -> identity.Machine:
    """This PC's hostname and MACs, read only for ``client.id: auto`` (getmac on Windows)."""
    from kiosk.platform.machine import this_machine as read

    return read()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    import argparse

    parser = argparse.ArgumentParser(
        prog=PROG, description="扫码上机 kiosk client",
        epilog=f"{PROG} install|uninstall [--dry-run]: start the kiosk at logon, or "
               f"stop doing so ({PROG} install --help). {PROG} check [--json]: check that this "
               f"PC is set up right ({PROG} check --help). {PROG} watchdog [install|uninstall]: "
               f"the service that acts when the kiosk is killed ({PROG} watchdog --help).")
    parser.add_argument("--config", type=Path, default=HERE / "config.yaml",
                        help="config file (default: config.yaml next to main.py)")
    hidden = argparse.SUPPRESS  # the guardian and the UI start each other with these
    parser.add_argument("--role", choices=("guardian", "ui", "simulator"), default="guardian",
                        help=hidden)
    parser.add_argument("--server-url", help=hidden)
    parser.add_argument("--rebooting", help=hidden)
    parser.add_argument("--reboot-outcome", default="started",
                        choices=("started", "simulated", "skipped", "failed"), help=hidden)
    parser.add_argument("--ui-pid", type=int, help=hidden)
    parser.add_argument(WINDOW_FLAG, help=hidden)
    parser.add_argument("--widget", help=hidden)
    args, extra = parser.parse_known_args(argv)
    if extra and args.role != "simulator":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.simulator_args = extra
    return args


def load_config(path: Path, log_name: str) -> config.Config:
    """Set up logging first (a crash at start-up must leave a line), then check the config."""
    from kiosk import config, logs

    problem: config.ConfigError | None = None
    try:
        data = config.read_yaml(path)
    except config.ConfigError as exc:
        data, problem = {}, exc
    logs.setup(config.log_dir_of(data, path.resolve().parent), log_name)
    if problem is not None:
        raise problem
    return config.load(path, data)


def start_remote(cfg: config.Config, client_id: str) -> RemoteLog | None:
    """``log.remote``: this process's sender, for its log lines and its trace events."""
    if cfg.log_remote is None:
        return None
    from kiosk import logs
    from kiosk.platform.machine import hostname
    from kiosk.remote_log import RemoteLog

    remote = RemoteLog(cfg.log_remote, client_id=client_id, hostname=hostname(),
                       queue_size=cfg.log_remote_queue)
    logs.forward(remote)
    return remote


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cover = cover_first(argv)
    import logging

    from kiosk import config, console, identity

    console.make_safe()  # a line the console's code page cannot carry must not end us

    log = logging.getLogger("kiosk")
    if argv[:1] and argv[0] in AUTOSTART_COMMANDS:
        from kiosk.platform.autostart import main as autostart

        return autostart(argv, default_config=HERE / "config.yaml", prog=PROG)
    if argv[:1] == ["check"]:
        from kiosk.check.command import main as check

        frozen = PROG == "kiosk"  # kiosk-console.exe in a built folder
        hint = f"{Path(sys.executable).name} install" if frozen else "python main.py install"
        return check(argv[1:], default_config=HERE / "config.yaml", prog=PROG,
                     install_hint=hint)
    if argv[:1] == ["watchdog"]:
        from kiosk.watchdog_command import main as watchdog

        return watchdog(argv[1:], default_config=HERE / "config.yaml", prog=PROG,
                        start_remote=start_remote)
    if argv[:1] == ["hash-password"]:
        import getpass

        from kiosk.admin import hash_password_command

        return hash_password_command(getpass.getpass, print,
                                     lambda line: print(line, file=sys.stderr))
    args = parse_args(argv)
    if args.role == "simulator":  # the embedded simulator's own process
        from kiosk.simulator.__main__ import main as run_simulator

        run_simulator(args.simulator_args)
        return 0
    try:
        cfg = load_config(args.config, "kiosk-ui" if args.role == "ui" else "kiosk")
        if args.role == "ui":
            cfg, unregistered = identity.identify(cfg, this_machine)
            client_id = UNREGISTERED if unregistered else cfg.client_id
        else:  # a mistake in clients.csv stops the start; the UI logs the id it finds
            found = identity.resolve(cfg, this_machine)
            client_id = found.client_id if isinstance(found, identity.Identity) else UNREGISTERED
    except config.ConfigError as exc:
        log.error("%s", exc)  # one line on stderr (the console log) and in the log file
        return 2
    if args.role == "ui":
        from kiosk.platform.dpi import settle
        from kiosk.platform.memory import one_heap

        log.info("malloc: %s", one_heap())  # before the UI's threads allocate
        dpi = settle()  # Windows: before the first window, if the cover made none
        if dpi is not None:
            (log.info if dpi[0] else log.warning)("%s", dpi[1])
    remote = start_remote(cfg, client_id)
    if args.role == "ui":
        from kiosk.app import run as run_ui

        url = args.server_url or cfg.base_url
        if url == config.EMBEDDED:
            print("kiosk: the UI needs --server-url when server.base_url is embedded; "
                  "start it with python main.py", file=sys.stderr)
            return 2
        guardian_args = ["--config", str(cfg.path), "--role", "guardian", "--server-url", url]
        return run_ui(cfg, server_url=url, rebooting=args.rebooting, guardian_args=guardian_args,
                      unregistered=unregistered, reboot_outcome=args.reboot_outcome,
                      cover=cover, widget=args.widget, remote=remote)
    from kiosk.guardian import run as run_guardian

    return run_guardian(cfg, server_url=args.server_url, ui_pid=args.ui_pid, remote=remote,
                        rebooting=args.rebooting, reboot_outcome=args.reboot_outcome)


if __name__ == "__main__":
    sys.exit(main())
