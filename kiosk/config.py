"""config.yaml, read and checked once (DESIGN.md §5 is the contract for its keys).

Every problem becomes a ``ConfigError`` whose message is one plain sentence naming
the key, so an operator sees what to fix instead of a traceback.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from kiosk.contract import METHODS
from kiosk.flow import Timers
from kiosk.present import AUTO as RENDER_AUTO
from kiosk.present import RENDERERS
from kiosk.remote_log import QUEUE, Target, parse_target

log = logging.getLogger(__name__)

REBOOT_MODES = ("simulate", "system", "command")
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
EMBEDDED = "embedded"
AUTO = "auto"  # client.id: the id comes from client.map_file or client.hostname_pattern
MIN_HANG_S = 3.0
MAX_JITTER = 0.25  # more would make rules 2, 5 and 7 answer visibly later


class ConfigError(Exception):
    """The config cannot be used; the message names the key."""


@dataclass(frozen=True)
class SimulatorConfig:
    port: int
    rate_per_min: float
    report_timeout_s: float
    files_dir: Path | None
    service_num: str


@dataclass(frozen=True)
class GuardConfig:
    """Lock-down keys: hang detection, one instance, maintenance mode, the admin exit."""

    hang_s: float
    lock_file: Path
    maintenance_flag_file: Path | None
    maintenance_registry_flags: tuple[str, ...]
    maintenance_check_s: float
    admin_password_hash: str | None = field(repr=False)  # never in a log line, even by repr


@dataclass(frozen=True)
class Config:
    path: Path
    base_url: str  # "embedded" or the venue backend
    files_base_url: str | None
    timeout_s: float
    client_id: str
    qr_url: str
    pay_qr_url: str
    status_value: int
    timers: Timers
    reboot_mode: str
    reboot_command: tuple[str, ...]
    reboot_simulate_s: float
    reboot_down_within_s: float  # an accepted reboot that leaves the PC up this long failed
    fullscreen: bool
    window_size: tuple[int, int]
    widget_corner: str
    cache_dir: Path
    media_refresh_s: float
    hw_decode: bool
    renderer: str  # media.renderer: how the standby video reaches a screen of another size
    log_dir: Path
    trace: Path | None
    debug: bool
    simulator: SimulatorConfig
    guard: GuardConfig
    client_map_file: Path | None = None
    client_hostname_pattern: str | None = None
    client_id_template: str = "{0}"
    client_map_check_s: float = 10.0  # how often 未登记的机器 looks at client.map_file again
    client_id_source: str = "config"  # where client_id came from (kiosk/identity.py)
    display_monitor: str = "primary"  # the monitor locked pages show on (kiosk/layout.py)
    ca_file: Path | None = None  # the venue's CA (or the server's certificate), PEM
    cert_sha256: str | None = None  # the pinned server certificate, lowercase hex
    method: str = "GET"  # how the REST calls send their inputs: GET or POST
    log_remote: Target | None = None  # the syslog collector (kiosk/remote_log.py)
    log_remote_queue: int = QUEUE

    @property
    def embedded(self) -> bool:
        return self.base_url == EMBEDDED


class _Reader:
    """Typed access to the parsed YAML, raising ConfigError that names the key."""

    def __init__(self, data: dict, folder: Path) -> None:
        self.data = data
        self.folder = folder
        self.known: set[str] = set()

    def unknown(self) -> list[str]:
        """Keys in the file that nothing reads: most likely typing mistakes."""
        found: list[str] = []

        def walk(node: dict, prefix: str) -> None:
            for name, value in node.items():
                key = f"{prefix}{name}"
                if key in self.known:
                    continue
                if isinstance(value, dict) and any(k.startswith(key + ".") for k in self.known):
                    walk(value, key + ".")
                else:
                    found.append(key)

        walk(self.data, "")
        return found

    def raw(self, key: str, default: Any) -> Any:
        self.known.add(key)
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict):
                raise ConfigError(f"config key {key} is inside something that is not a section.")
            if part not in node:
                return default
            node = node[part]
        return default if node is None and default is not None else node

    def number(self, key: str, default: float, *, positive: bool = True) -> float:
        value = self.raw(key, default)
        # YAML's .nan and .inf are floats too; either would stop a timer rule for good
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value)):
            raise ConfigError(f"config key {key} must be a number, not {value!r}.")
        if positive and value <= 0:
            raise ConfigError(f"config key {key} must be greater than 0, not {value!r}.")
        return float(value)

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"config key {key} must be a whole number from {low} to {high}, "
                              f"not {value!r}.")
        return value

    def text(self, key: str, default: str | None, *, required: bool = False) -> str | None:
        value = self.raw(key, default)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value is None and not required:
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            raise ConfigError(f"config key {key} must be a non-empty text, not {value!r}.")
        return value.strip()

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"config key {key} must be true or false, not {value!r}.")
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.raw(key, default)
        if value not in choices:
            raise ConfigError(f"config key {key} must be one of {', '.join(choices)}, "
                              f"not {value!r}.")
        return value

    def path(self, key: str, default: str | None) -> Path | None:
        value = self.text(key, default)
        if value is None:
            return None
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.folder / path

    def url(self, key: str, default: str | None, *, allow: tuple[str, ...] = ()) -> str | None:
        value = self.text(key, default)
        if value is None or value in allow:
            return value
        if not value.startswith(("http://", "https://")):
            raise ConfigError(f"config key {key} must start with http:// or https://, "
                              f"not {value!r}.")
        return value.rstrip("/")


# libyaml parses the file about ten times faster, before the UI can show its lock.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):
    """YAML's safe loader, but ``0370011`` stays the text it looks like, not octal 126985."""


def _int_or_text(loader: _Loader, node: yaml.ScalarNode) -> int | str:
    value = loader.construct_scalar(node)
    if isinstance(value, str) and len(value) > 1 and value.startswith("0") and value.isdigit():
        return value
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_Loader.add_constructor("tag:yaml.org,2002:int", _int_or_text)


def read_yaml(path: Path) -> dict:
    """The file's mapping; unreadable or malformed files are a ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read ({exc.strerror}).") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text.") from exc
    try:
        data = yaml.load(text, Loader=_Loader)  # a safe loader
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        raise ConfigError(f"config file {path} is not valid YAML{line}.") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold sections such as server: and client:.")
    return data


def log_dir_of(data: dict, folder: Path) -> Path:
    """Where logs go, read before full validation so that a bad config is logged too."""
    value = data.get("log", {}).get("dir") if isinstance(data.get("log"), dict) else None
    path = Path(value if isinstance(value, str) and value.strip() else "logs").expanduser()
    return path if path.is_absolute() else folder / path


def load(path: Path, data: dict | None = None) -> Config:
    """Read and check the whole config file."""
    path = path.resolve()
    r = _Reader(read_yaml(path) if data is None else data, path.parent)
    base_url = r.url("server.base_url", EMBEDDED, allow=(EMBEDDED,))
    client_id = r.text("client.id", None, required=True)
    assert base_url is not None and client_id is not None
    qr_url = r.text("client.qr_url", "http://47.92.114.240:8080/h5/scan?clientId={client_id}")
    timers = Timers(
        scan_idle_s=r.number("timers.scan_idle_s", 30),
        scan_poll_s=r.number("timers.scan_poll_s", 1),
        session_report_s=r.number("timers.session_report_s", 10),
        session_poll_s=r.number("timers.session_poll_s", 2),
        after_confirm_reboot_s=r.number("timers.after_confirm_reboot_s", 180),
        unpaid_poll_s=r.number("timers.unpaid_poll_s", 1),
        jitter=_jitter(r),
    )
    mode = r.choice("reboot.mode", "simulate", REBOOT_MODES)
    command = r.raw("reboot.command", [])
    if not isinstance(command, list) or not all(isinstance(a, str) for a in command):
        raise ConfigError("config key reboot.command must be a list of texts (an argv).")
    if mode == "command" and not command:
        raise ConfigError("config key reboot.command must name a program when reboot.mode "
                          "is command.")
    size = r.raw("display.window_size", [1280, 720])
    if (not isinstance(size, list) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 320 for v in size)):
        raise ConfigError("config key display.window_size must be [width, height], "
                          "each at least 320.")
    simulator = SimulatorConfig(
        port=r.integer("simulator.port", 8765, 0, 65535),
        rate_per_min=r.number("simulator.rate_per_min", 1.32),
        report_timeout_s=r.number("simulator.report_timeout_s", 60),
        files_dir=r.path("simulator.files_dir", None),
        service_num=r.text("simulator.service_num", "13738196887") or "",
    )
    log_dir = r.path("log.dir", "logs") or path.parent / "logs"
    cfg = Config(
        path=path,
        base_url=base_url,
        files_base_url=r.url("server.files_base_url", None),
        timeout_s=r.number("server.timeout_s", 4),
        client_id=client_id,
        qr_url=qr_url or "",
        pay_qr_url=r.text("client.pay_qr_url", None) or qr_url or "",
        status_value=r.integer("client.status_value", 1, -2**31, 2**31 - 1),
        timers=timers,
        reboot_mode=mode,
        reboot_command=tuple(command),
        reboot_simulate_s=r.number("reboot.simulate_s", 5),
        reboot_down_within_s=r.number("reboot.down_within_s", 120),
        fullscreen=r.flag("display.fullscreen", True),
        window_size=(size[0], size[1]),
        widget_corner=r.choice("display.widget_corner", "top-right", CORNERS),
        cache_dir=r.path("media.cache_dir", "cache") or path.parent / "cache",
        media_refresh_s=r.number("media.refresh_s", 300),
        hw_decode=r.flag("media.hw_decode", False),
        renderer=r.choice("media.renderer", RENDER_AUTO, RENDERERS),
        log_dir=log_dir,
        trace=r.path("log.trace", None),
        debug=r.flag("debug", False),
        simulator=simulator,
        guard=_guard(r, log_dir),
    )
    cfg = replace(cfg, **_client_rules(r, client_id), **_server_trust(r), **_remote(r),
                  method=_method(r), display_monitor=_monitor(r))
    if (cfg.ca_file or cfg.cert_sha256) and not any(
            url and url.startswith("https://") for url in (cfg.base_url, cfg.files_base_url)):
        log.warning("config keys server.ca_file and server.cert_sha256 apply to https:// "
                    "only; server.base_url and server.files_base_url are not https")
    for key in r.unknown():
        log.warning("config key %s is not one this program knows; it is ignored", key)
    return cfg


def _client_rules(r: _Reader, client_id: str) -> dict[str, Any]:
    """The keys that find the id of a PC with ``client.id: auto`` (kiosk/identity.py)."""
    pattern = r.text("client.hostname_pattern", None)
    template = r.text("client.id_template", "{0}") or "{0}"
    rules = {"client_map_file": r.path("client.map_file", None),
             "client_map_check_s": r.number("client.map_check_s", 10),
             "client_hostname_pattern": pattern, "client_id_template": template}
    if pattern is not None:
        try:
            groups = re.compile(pattern).groups
        except re.error as exc:
            raise ConfigError(f"config key client.hostname_pattern is not a valid regular "
                              f"expression ({exc}).") from exc
        if groups < 1:
            raise ConfigError("config key client.hostname_pattern needs a group in "
                              "parentheses for the id, such as PC-(\\d+).")
    try:
        usable = "\0" in template.format("\0")
    except (IndexError, KeyError, ValueError):
        usable = False
    if not usable:
        raise ConfigError(f"config key client.id_template must use {{0}} for the number "
                          f"from the hostname, not {template!r}.")
    if client_id == AUTO and rules["client_map_file"] is None and pattern is None:
        raise ConfigError("config key client.id is auto, so client.map_file or "
                          "client.hostname_pattern must be set.")
    return rules


def _server_trust(r: _Reader) -> dict[str, Any]:
    """``server.ca_file`` and ``server.cert_sha256``: the two ways to trust a backend's own
    certificate (kiosk/tls.py); there is no way to turn verification off."""
    ca_file = r.path("server.ca_file", None)
    pin = r.text("server.cert_sha256", None)
    if ca_file is not None and pin is not None:
        raise ConfigError("config keys server.ca_file and server.cert_sha256 are two ways to "
                          "trust the backend: set one of them, not both.")
    if ca_file is not None:
        if not ca_file.is_file():
            raise ConfigError(f"config key server.ca_file names {ca_file}, which is not a "
                              f"file.")
        import ssl  # OpenSSL: loaded by the guardian only when a CA file is configured

        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=ca_file)
        except (ssl.SSLError, OSError, UnicodeError) as exc:
            raise ConfigError(f"config key server.ca_file: {ca_file} holds no PEM certificate "
                              f"(-----BEGIN CERTIFICATE-----) that can be read.") from exc
    if pin is not None:
        from kiosk.certificate import parse_fingerprint

        try:
            pin = parse_fingerprint(pin)
        except ValueError:
            raise ConfigError(f"config key server.cert_sha256 must be the certificate's SHA-256 "
                              f"fingerprint, 64 hex digits (with or without colons), not "
                              f"{pin!r}.") from None
    return {"ca_file": ca_file, "cert_sha256": pin}


def _method(r: _Reader) -> str:
    """``server.method``: GET or POST (any case); the specification does not say which."""
    method = r.text("server.method", METHODS[0]) or METHODS[0]
    if method.upper() not in METHODS:
        raise ConfigError(f"config key server.method must be {' or '.join(METHODS)}, "
                          f"not {method!r}.")
    return method.upper()


def _remote(r: _Reader) -> dict[str, Any]:
    """``log.remote``: ``udp://host:514`` or ``tcp://host:601``, and its queue."""
    text = r.text("log.remote", None)
    try:
        target = None if text is None else parse_target(text)
    except ValueError:
        raise ConfigError(f"config key log.remote must look like udp://host:514 or "
                          f"tcp://host:601, not {text!r}.") from None
    return {"log_remote": target,
            "log_remote_queue": r.integer("log.remote_queue", QUEUE, 1, 1_000_000)}


def _guard(r: _Reader, log_dir: Path) -> GuardConfig:
    from kiosk.platform.maintenance import DEFAULT_REGISTRY_FLAGS, parse_flag

    flags = r.raw("maintenance.registry_flags", list(DEFAULT_REGISTRY_FLAGS))
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise ConfigError("config key maintenance.registry_flags must be a list of texts "
                          "such as HKLM\\SYSTEM\\CurrentControlSet\\iCafe8\\Admin = 1.")
    for entry in flags:
        try:
            parse_flag(entry)
        except ValueError as exc:
            raise ConfigError(f"config key maintenance.registry_flags: {exc}.") from None
    password_hash = r.text("admin.password_hash", None)
    if password_hash is not None:
        from kiosk.admin import parse_hash  # hashing loads OpenSSL: only when configured

        try:
            parse_hash(password_hash)
        except ValueError as exc:
            raise ConfigError(f"config key admin.password_hash {exc}.") from None
    hang_s = r.number("guardian.hang_s", 10)
    if hang_s < MIN_HANG_S:  # the UI signs life once a second; a slow second is no hang
        raise ConfigError(f"config key guardian.hang_s must be at least {MIN_HANG_S:g} "
                          f"(seconds), not {hang_s:g}.")
    return GuardConfig(
        hang_s=hang_s,
        lock_file=r.path("guardian.lock_file", None) or log_dir / "kiosk.lock",
        maintenance_flag_file=r.path("maintenance.flag_file", "maintenance.flag"),
        maintenance_registry_flags=tuple(flags),
        maintenance_check_s=r.number("maintenance.check_s", 5),
        admin_password_hash=password_hash,
    )


def _monitor(r: _Reader) -> str:
    """``display.monitor``: ``primary``, a number counted from the left, or a monitor's name."""
    value = r.raw("display.monitor", "primary")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return str(value)
    if not isinstance(value, str) or not value.strip() or value.strip().isdigit() and \
            int(value) < 1:
        raise ConfigError(f"config key display.monitor must be primary, a monitor's number "
                          f"from the left (1, 2, …) or its name (as in the log), not {value!r}.")
    return value.strip()


def _jitter(r: _Reader) -> float:
    """``timers.jitter``: the random spread of poll and report periods, a fraction."""
    value = r.number("timers.jitter", 0.05, positive=False)
    if not 0 <= value <= MAX_JITTER:
        raise ConfigError(f"config key timers.jitter must be a fraction from 0 to {MAX_JITTER} "
                          f"(0.05 spreads each period by 5 %), not {value!r}.")
    return value


def fill(template: str, *, client_id: str, base_url: str) -> str:
    """A QR payload: ``{client_id}`` and ``{base_url}`` filled in, nothing else touched."""
    return template.replace("{client_id}", client_id).replace("{base_url}", base_url)
