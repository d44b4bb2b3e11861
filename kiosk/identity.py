"""Which clientId this PC is, so one disk image serves a whole venue.

With ``client.id: auto`` the id comes from a mapping file (``hostname,mac,client_id``),
looked up by MAC address first (it survives a renamed PC), then by hostname, and
last from a hostname pattern such as ``PC-(\\d+)``. A machine none of them knows is
``Unregistered``: the kiosk then shows whom to ask instead of running with a wrong id.
Everything here is pure; reading the real hostname and MACs is kiosk/platform/machine.py.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from kiosk.config import AUTO, Config, ConfigError

log = logging.getLogger(__name__)

HEADER = ("hostname", "mac", "client_id")


@dataclass(frozen=True)
class Machine:
    """What identifies this PC on the network."""

    hostname: str
    macs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Identity:
    """The clientId in use and where it came from (logged and shown in debug mode)."""

    client_id: str
    source: str


@dataclass(frozen=True)
class Unregistered:
    """No rule knows this machine: it must be added before it can take customers."""

    machine: Machine
    map_file: Path | None

    @property
    def file_name(self) -> str:
        return self.map_file.name if self.map_file else "clients.csv"

    @property
    def line(self) -> str:
        """The start of its line in the mapping file: the id is typed in last."""
        return f"{self.machine.hostname},{self.machine.macs[0] if self.machine.macs else ''},"


def normalize_mac(text: str) -> str | None:
    """``aa:bb:cc:dd:ee:ff`` whatever the separators (``-``, ``:``, ``.``, none) or case."""
    digits = re.sub(r"[\s:.\-]", "", text).lower()
    if not re.fullmatch(r"[0-9a-f]{12}", digits):
        return None
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def host_names(hostname: str) -> tuple[str, ...]:
    """The names a hostname is matched by: as is and without its domain, lower case."""
    full = hostname.strip().lower()
    short = full.split(".", 1)[0]
    return (full,) if short == full else (full, short)


@dataclass
class ClientMap:
    """The mapping file, checked: every id, MAC and hostname appears once."""

    path: Path
    by_mac: dict[str, str] = field(default_factory=dict)
    by_host: dict[str, str] = field(default_factory=dict)

    def find(self, machine: Machine) -> Identity | None:
        """By MAC (it stays when a PC is renamed), else by hostname."""
        by_mac = next((Identity(self.by_mac[mac], f"{self.path.name} by MAC {mac}")
                       for mac in machine.macs if mac in self.by_mac), None)
        by_host = next((Identity(self.by_host[name],
                                 f"{self.path.name} by hostname {machine.hostname}")
                        for name in host_names(machine.hostname) if name in self.by_host), None)
        if by_mac and by_host and by_mac.client_id != by_host.client_id:
            # Likely a PC moved or renamed: the MAC goes with the hardware, so it wins.
            log.warning("%s gives this PC %s by MAC but %s by hostname %s; using %s",
                        self.path.name, by_mac.client_id, by_host.client_id, machine.hostname,
                        by_mac.client_id)
        return by_mac or by_host


def _decode(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"client map file {path} cannot be read ({exc.strerror}).") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on a Chinese Windows saves CSV as GBK; GB18030 reads all of that.
        return raw.decode("gb18030", errors="replace")


def read_map(path: Path) -> ClientMap:
    """Parse ``hostname,mac,client_id``; blank lines and ``#`` comments are skipped.

    A mistake that would give two PCs the same id, or one PC two ids, is a
    ConfigError naming the file and line, so it is fixed before a venue opens.
    """
    rows = [(number, row) for number, row in
            enumerate(csv.reader(_decode(path).splitlines()), start=1)
            if any(cell.strip() for cell in row) and not row[0].lstrip().startswith("#")]
    where = f"client map file {path}"
    if not rows or tuple(c.strip().lower() for c in rows[0][1]) != HEADER:
        raise ConfigError(f"{where} must start with the header line {','.join(HEADER)}.")
    found = ClientMap(path)
    first_line: dict[str, int] = {}
    for number, row in rows[1:]:
        if len(row) != len(HEADER):
            raise ConfigError(f"{where} line {number} must have 3 fields "
                              f"({','.join(HEADER)}), not {len(row)}.")
        hostname, mac_text, client_id = (cell.strip() for cell in row)
        if not client_id:
            raise ConfigError(f"{where} line {number} has an empty client_id.")
        if not hostname and not mac_text:
            raise ConfigError(f"{where} line {number} needs a hostname or a mac.")
        mac = normalize_mac(mac_text) if mac_text else None
        if mac_text and mac is None:
            raise ConfigError(f"{where} line {number}: {mac_text!r} is not a MAC address.")
        for key, seen in ((f"client_id {client_id}", "id " + client_id),
                          (f"hostname {hostname}", "host " + hostname.lower() if hostname else ""),
                          (f"mac {mac}", "mac " + mac if mac else "")):
            if seen and seen in first_line:
                raise ConfigError(f"{where} line {number}: {key} is already on line "
                                  f"{first_line[seen]}.")
            if seen:
                first_line[seen] = number
        if mac:
            found.by_mac[mac] = client_id
        if hostname:
            found.by_host[hostname.lower()] = client_id
    return found


def from_pattern(pattern: str, template: str, hostname: str) -> Identity | None:
    """The id from the hostname's first group, e.g. ``PC-(\\d+)`` + ``3700{0}``."""
    match = re.fullmatch(pattern, hostname.strip(), flags=re.IGNORECASE)
    if match is None or not match.group(1):
        return None
    return Identity(template.format(match.group(1)), f"hostname {hostname} by pattern {pattern}")


def resolve(config: Config, read_machine: Callable[[], Machine]) -> Identity | Unregistered:
    """The id for this machine: config.yaml's own, or by MAC, hostname, then pattern.

    ``read_machine`` is called only for ``client.id: auto`` (on Windows it runs getmac).
    """
    if config.client_id != AUTO:
        return Identity(config.client_id, config.path.name)
    machine = read_machine()
    if config.client_map_file is not None:
        found = read_map(config.client_map_file).find(machine)
        if found is not None:
            return found
    if config.client_hostname_pattern is not None:
        found = from_pattern(config.client_hostname_pattern, config.client_id_template,
                             machine.hostname)
        if found is not None:
            return found
    return Unregistered(machine, config.client_map_file)


def identify(config: Config, read_machine: Callable[[], Machine],
             ) -> tuple[Config, Unregistered | None]:
    """The config with this PC's id filled in and logged, or the unregistered machine."""
    found = resolve(config, read_machine)
    if isinstance(found, Unregistered):
        log.error("this machine is not registered: hostname %s, MAC %s; add a line for it to %s",
                  found.machine.hostname, ", ".join(found.machine.macs) or "none",
                  found.map_file or "client.map_file")
        return replace(config, client_id_source="not registered"), found
    log.info("client id %s (from %s)", found.client_id, found.source)
    return replace(config, client_id=found.client_id, client_id_source=found.source), None
