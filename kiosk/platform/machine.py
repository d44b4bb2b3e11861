"""This PC's hostname and MAC addresses, the facts ``client.id: auto`` looks up.

``uuid.getnode`` is no help: it returns one address, or a random one when it finds
none. Linux reads ``/sys/class/net``; Windows asks ``getmac``, which every Windows
since XP has, so no ctypes structures are needed (Wine 8 has none: the hostname alone
then identifies the PC, and the log says why).
"""

from __future__ import annotations

import csv
import logging
import platform as platform_module
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from kiosk.identity import Machine, normalize_mac
from kiosk.platform.process import CREATE_NO_WINDOW  # no console over the lock screen

log = logging.getLogger(__name__)

GETMAC = ("getmac", "/fo", "csv", "/nh")
ZERO_MAC = "00:00:00:00:00:00"

Run = Callable[..., subprocess.CompletedProcess]


def hostname() -> str:
    """The computer name (on Windows the NetBIOS name the venue's PCs are labelled with)."""
    return socket.gethostname() or platform_module.node()


def linux_macs(net: Path = Path("/sys/class/net")) -> tuple[str, ...]:
    """Addresses of the network cards: physical ones (with a ``device``) first, no loopback."""
    physical, virtual = [], []
    try:
        interfaces = sorted(net.iterdir())
    except OSError as exc:
        log.warning("cannot list network interfaces in %s: %s", net, exc)
        return ()
    for interface in interfaces:
        try:
            mac = normalize_mac((interface / "address").read_text(encoding="ascii").strip())
        except (OSError, UnicodeDecodeError):
            continue
        if interface.name == "lo" or mac is None or mac == ZERO_MAC:
            continue
        (physical if (interface / "device").exists() else virtual).append(mac)
    return tuple(dict.fromkeys(physical or virtual))


def parse_getmac(output: str) -> tuple[str, ...]:
    """MACs from ``getmac /fo csv /nh`` lines such as ``"00-15-5D-01-02-03","\\Device\\..."``;
    lines without an address (``N/A``, ``Disabled``) are skipped."""
    found = []
    for row in csv.reader(output.splitlines()):
        mac = normalize_mac(row[0]) if row else None
        if mac is not None and mac != ZERO_MAC:
            found.append(mac)
    return tuple(dict.fromkeys(found))


def windows_macs(run: Run = subprocess.run) -> tuple[str, ...]:
    """Ask ``getmac``; a failure leaves the hostname to identify the PC."""
    try:
        done = run(list(GETMAC), capture_output=True, timeout=15,
                   creationflags=CREATE_NO_WINDOW)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("getmac failed: %s", exc)
        return ()
    if done.returncode != 0:
        log.warning("getmac failed with code %s", done.returncode)
        return ()
    return parse_getmac(done.stdout.decode("ascii", errors="replace"))


def this_machine(platform: str = sys.platform, run: Run = subprocess.run,
                 net: Path = Path("/sys/class/net")) -> Machine:
    """The hostname and MAC addresses of the PC this runs on."""
    macs = windows_macs(run) if platform == "win32" else linux_macs(net)
    return Machine(hostname(), macs)
