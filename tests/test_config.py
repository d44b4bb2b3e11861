"""config.yaml (DESIGN.md §5): defaults, paths, and one clear sentence naming the key on error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiosk import config
from kiosk.flow import Timers

MINIMAL = 'client:\n  id: "370011"\n'


def write(folder: Path, text: str | bytes, name: str = "config.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def load_text(folder: Path, text: str) -> config.Config:
    return config.load(write(folder, text))


def error_of(path: Path) -> str:
    with pytest.raises(config.ConfigError) as caught:
        config.load(path)
    return str(caught.value)


def assert_one_sentence_naming(message: str, name: str) -> None:
    assert name in message
    assert "\n" not in message and "Traceback" not in message
    assert message.endswith(".")
    assert len(re.findall(r"[.!?](?:\s|$)", message)) == 1, message  # only the final stop


# --- defaults and values -------------------------------------------------------------


def test_minimal_config_gets_the_documented_defaults(tmp_path):
    cfg = load_text(tmp_path, MINIMAL)
    assert cfg.base_url == "embedded" and cfg.embedded
    assert cfg.files_base_url is None
    assert cfg.timeout_s == 4
    assert cfg.client_id == "370011"
    assert "{client_id}" in cfg.qr_url
    assert cfg.pay_qr_url == cfg.qr_url
    assert cfg.status_value == 1
    assert cfg.timers == Timers(scan_idle_s=30, scan_poll_s=1, session_report_s=10,
                                session_poll_s=2, after_confirm_reboot_s=180, unpaid_poll_s=1,
                                jitter=0.05)
    assert cfg.reboot_mode == "simulate" and cfg.reboot_command == ()
    assert cfg.fullscreen is True
    assert cfg.widget_corner == "top-right"
    assert cfg.cache_dir == tmp_path / "cache"
    assert cfg.hw_decode is False  # software decoding unless the operator asks for the GPU
    assert cfg.log_dir == tmp_path / "logs"
    assert cfg.trace is None
    assert cfg.debug is False
    assert cfg.path == tmp_path / "config.yaml"


def test_lock_down_keys_get_their_defaults(tmp_path):
    from kiosk.platform.maintenance import DEFAULT_REGISTRY_FLAGS

    guard = load_text(tmp_path, MINIMAL + "log:\n  dir: var/log\n").guard
    assert guard.hang_s == 10
    assert guard.lock_file == tmp_path / "var" / "log" / "kiosk.lock"  # beside the logs
    assert guard.maintenance_flag_file == tmp_path / "maintenance.flag"  # beside the config
    assert guard.maintenance_registry_flags == DEFAULT_REGISTRY_FLAGS
    assert guard.maintenance_check_s == 5
    assert guard.admin_password_hash is None


def test_lock_down_keys_are_read(tmp_path):
    from kiosk.admin import make_hash

    line = make_hash("pw", 1000)
    guard = load_text(tmp_path, MINIMAL + f"""
guardian:
  hang_s: 4.5
  lock_file: run/k.lock
maintenance:
  flag_file: D:/flags/maint.flag
  registry_flags: ['HKCU\\Software\\Cafe\\Maint = on']
  check_s: 2
admin:
  password_hash: "{line}"
""").guard
    assert guard.hang_s == 4.5
    assert guard.lock_file == tmp_path / "run" / "k.lock"
    assert guard.maintenance_registry_flags == ("HKCU\\Software\\Cafe\\Maint = on",)
    assert guard.maintenance_check_s == 2
    assert guard.admin_password_hash == line


def test_null_values_mean_the_default(tmp_path):
    cfg = load_text(tmp_path, MINIMAL + "server:\n  base_url: null\n  timeout_s: null\n"
                    "timers:\n  scan_idle_s: null\nmedia:\n  cache_dir: null\n")
    assert cfg.base_url == "embedded"
    assert cfg.timeout_s == 4
    assert cfg.timers.scan_idle_s == 30
    assert cfg.cache_dir == tmp_path / "cache"


def test_full_venue_config_is_read(tmp_path):
    cfg = load_text(tmp_path, """
server:
  base_url: http://47.92.114.240:8080/
  files_base_url: https://cdn.example.com/kiosk
  timeout_s: 2.5
client:
  id: 370011
  qr_url: "http://47.92.114.240:8080/h5/scan?clientId={client_id}"
  pay_qr_url: "http://47.92.114.240:8080/h5/pay?clientId={client_id}"
  status_value: 2
timers:
  scan_idle_s: 45
  scan_poll_s: 0.5
  session_report_s: 15
  session_poll_s: 3
  after_confirm_reboot_s: 120
  unpaid_poll_s: 2
  jitter: 0
reboot:
  mode: command
  command: [shutdown, /r, /t, "0", /f]
display:
  fullscreen: false
  widget_corner: bottom-left
media:
  hw_decode: true
log:
  trace: trace.jsonl
debug: true
""")
    assert cfg.base_url == "http://47.92.114.240:8080" and not cfg.embedded
    assert cfg.files_base_url == "https://cdn.example.com/kiosk"
    assert cfg.timeout_s == 2.5
    assert cfg.client_id == "370011"  # an unquoted number is still the id
    assert cfg.pay_qr_url.endswith("/h5/pay?clientId={client_id}")
    assert cfg.status_value == 2
    assert cfg.timers == Timers(scan_idle_s=45, scan_poll_s=0.5, session_report_s=15,
                                session_poll_s=3, after_confirm_reboot_s=120, unpaid_poll_s=2,
                                jitter=0)
    assert cfg.reboot_mode == "command"
    assert cfg.reboot_command == ("shutdown", "/r", "/t", "0", "/f")
    assert cfg.fullscreen is False
    assert cfg.widget_corner == "bottom-left"
    assert cfg.hw_decode is True
    assert cfg.trace == tmp_path / "trace.jsonl"
    assert cfg.debug is True


@pytest.mark.parametrize("corner", config.CORNERS)
def test_every_widget_corner_is_accepted(tmp_path, corner):
    assert load_text(tmp_path, MINIMAL + f"display:\n  widget_corner: {corner}\n"
                     ).widget_corner == corner


@pytest.mark.parametrize(("value", "expected"), [
    ("  fullscreen: true\n", "primary"), ("  monitor: null\n", "primary"),
    ("  monitor: primary\n", "primary"),
    ("  monitor: 2\n", "2"), ("  monitor: '3'\n", "3"), ("  monitor: HDMI-1\n", "HDMI-1"),
    ("  monitor: '\\\\.\\DISPLAY2'\n", "\\\\.\\DISPLAY2")])
def test_the_page_monitor_is_primary_a_number_or_a_name(tmp_path, value, expected):
    assert load_text(tmp_path, MINIMAL + "display:\n" + value).display_monitor == expected


@pytest.mark.parametrize("mode", ["simulate", "system"])
def test_reboot_modes_without_command(tmp_path, mode):
    assert load_text(tmp_path, MINIMAL + f"reboot:\n  mode: {mode}\n").reboot_mode == mode


def test_qr_payload_gets_the_client_id_filled_in():
    template = "http://47.92.114.240:8080/h5/scan?clientId={client_id}&from={base_url}"
    assert config.fill(template, client_id="370011", base_url="http://h") == (
        "http://47.92.114.240:8080/h5/scan?clientId=370011&from=http://h")
    assert config.fill("{other}", client_id="1", base_url="b") == "{other}"


# --- paths --------------------------------------------------------------------------------


def test_relative_paths_are_relative_to_the_config_folder_not_the_working_folder(
        tmp_path, monkeypatch):
    venue = tmp_path / "venue"
    write(venue, MINIMAL + "media:\n  cache_dir: media-cache\nlog:\n  dir: ../shared-logs\n"
          "  trace: logs/trace.jsonl\nsimulator:\n  files_dir: files\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = config.load(venue / "config.yaml")
    assert cfg.cache_dir == venue / "media-cache"
    assert cfg.log_dir == venue / "../shared-logs"
    assert cfg.trace == venue / "logs/trace.jsonl"
    assert cfg.simulator.files_dir == venue / "files"


def test_config_given_by_relative_path_resolves_against_its_own_folder(tmp_path, monkeypatch):
    write(tmp_path / "venue", MINIMAL)
    monkeypatch.chdir(tmp_path)
    cfg = config.load(Path("venue/config.yaml"))
    assert cfg.cache_dir == tmp_path / "venue" / "cache"
    assert cfg.cache_dir.is_absolute()


def test_absolute_paths_are_kept(tmp_path):
    absolute = tmp_path / "disk-d" / "kiosk-cache"
    cfg = load_text(tmp_path / "c", MINIMAL + f"media:\n  cache_dir: '{absolute}'\n")
    assert cfg.cache_dir == absolute


def test_home_folder_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("USERPROFILE", str(tmp_path / "home"))  # what ~ is on Windows
    cfg = load_text(tmp_path, MINIMAL + "log:\n  dir: ~/kiosk-logs\n")
    assert cfg.log_dir == tmp_path / "home" / "kiosk-logs"


@pytest.mark.parametrize(("data", "expected"), [
    ({"log": {"dir": "x"}}, "x"),
    ({"log": {"dir": ""}}, "logs"),
    ({"log": "nonsense"}, "logs"),
    ({}, "logs"),
])
def test_log_folder_is_known_even_before_the_config_is_validated(tmp_path, data, expected):
    assert config.log_dir_of(data, tmp_path) == tmp_path / expected


# --- errors -------------------------------------------------------------------------------

TIMER_KEYS = ["scan_idle_s", "scan_poll_s", "session_report_s", "session_poll_s",
              "after_confirm_reboot_s", "unpaid_poll_s"]


@pytest.mark.parametrize("value", ["-1", "0", "-0.5", "thirty", "'30'", "true", "[30]", ".nan",
                                   ".inf"])
@pytest.mark.parametrize("timer", TIMER_KEYS)
def test_bad_timer_stops_startup_naming_the_key(tmp_path, timer, value):
    message = error_of(write(tmp_path, MINIMAL + f"timers:\n  {timer}: {value}\n"))
    assert_one_sentence_naming(message, f"timers.{timer}")


@pytest.mark.parametrize("value", ["-0.01", "0.3", "1", "5%", "true", ".nan"])
def test_jitter_outside_a_few_percent_stops_startup_naming_the_key(tmp_path, value):
    message = error_of(write(tmp_path, MINIMAL + f"timers:\n  jitter: {value}\n"))
    assert_one_sentence_naming(message, "timers.jitter")


@pytest.mark.parametrize("value", [0, 0.02, 0.25])
def test_jitter_from_zero_to_a_quarter_is_accepted(tmp_path, value):
    assert load_text(tmp_path, MINIMAL + f"timers:\n  jitter: {value}\n").timers.jitter == value


PIN = "3c962c2ea4f3bf3ef7a9dc46ea3f12494247160ecc0a61fec4ab736fd37cc0f4"
SERVER = MINIMAL + "server:\n  "
ERRORS = [
    pytest.param(SERVER + f'cert_sha256: "{PIN[:-1]}"\n', "server.cert_sha256", id="pin-63"),
    pytest.param(SERVER + f'cert_sha256: "{PIN}0"\n', "server.cert_sha256", id="pin-65"),
    pytest.param(SERVER + f'cert_sha256: "x{PIN[1:]}"\n', "server.cert_sha256",
                 id="pin-not-hex"),
    pytest.param(SERVER + 'cert_sha256: "da39a3ee5e6b4b0d3255bfef95601890afd80709"\n',
                 "server.cert_sha256", id="pin-sha1"),
    pytest.param(SERVER + "cert_sha256: 12345\n", "server.cert_sha256", id="pin-number"),
    pytest.param(SERVER + f'ca_file: venue-ca.pem\n  cert_sha256: "{PIN}"\n',
                 "server.cert_sha256", id="ca-file-and-pin"),
    pytest.param(SERVER + "method: PUT\n", "server.method", id="method-put"),
    pytest.param(SERVER + "method: [GET]\n", "server.method", id="method-list"),
    pytest.param("server:\n  timeout_s: -4\n" + MINIMAL, "server.timeout_s",
                 id="negative-timeout"),
    pytest.param(MINIMAL + "reboot:\n  mode: halt\n", "reboot.mode", id="unknown-reboot-mode"),
    pytest.param(MINIMAL + "reboot:\n  mode: System\n", "reboot.mode", id="reboot-mode-case"),
    pytest.param("client:\n  qr_url: http://x/{client_id}\n", "client.id", id="missing-id"),
    pytest.param("server:\n  timeout_s: 4\n", "client.id", id="missing-client-section"),
    pytest.param('client:\n  id: ""\n', "client.id", id="empty-id"),
    pytest.param('client:\n  id: "   "\n', "client.id", id="blank-id"),
    pytest.param("client:\n  id: null\n", "client.id", id="null-id"),
    pytest.param("client:\n  id: [1, 2]\n", "client.id", id="list-id"),
    pytest.param("", "client.id", id="empty-file"),
    pytest.param("# only comments\n", "client.id", id="comments-only"),
    pytest.param(MINIMAL + "reboot:\n  mode: command\n", "reboot.command",
                 id="command-mode-without-command"),
    pytest.param(MINIMAL + "reboot:\n  mode: command\n  command: []\n", "reboot.command",
                 id="command-mode-empty-command"),
    pytest.param(MINIMAL + "reboot:\n  mode: command\n  command: shutdown /r /t 0\n",
                 "reboot.command", id="command-as-shell-string"),
    pytest.param(MINIMAL + "reboot:\n  command: [shutdown, 0]\n", "reboot.command",
                 id="command-with-number"),
    pytest.param(MINIMAL + "display:\n  widget_corner: top-middle\n", "display.widget_corner",
                 id="bad-widget-corner"),
    pytest.param(MINIMAL + "display:\n  widget_corner: topright\n", "display.widget_corner",
                 id="misspelt-widget-corner"),
    pytest.param(MINIMAL + "server:\n  base_url: 47.92.114.240:8080\n", "server.base_url",
                 id="url-without-scheme"),
    pytest.param(MINIMAL + "server:\n  base_url: ftp://47.92.114.240\n", "server.base_url",
                 id="url-wrong-scheme"),
    pytest.param(MINIMAL + "server:\n  base_url: ''\n", "server.base_url", id="url-empty"),
    pytest.param(MINIMAL + "server:\n  base_url: 8080\n", "server.base_url", id="url-number"),
    pytest.param(MINIMAL + "server:\n  files_base_url: files.example.com\n",
                 "server.files_base_url", id="bad-files-url"),
    pytest.param(MINIMAL + "display:\n  fullscreen: 'no'\n", "display.fullscreen",
                 id="fullscreen-as-text"),
    pytest.param(MINIMAL + "display:\n  window_size: [100, 100]\n", "display.window_size",
                 id="window-too-small"),
    pytest.param(MINIMAL + "display:\n  window_size: 1280x720\n", "display.window_size",
                 id="window-size-text"),
    pytest.param(MINIMAL + "debug: 1\n", "debug", id="debug-number"),
    pytest.param('client:\n  id: "1"\n  status_value: one\n', "client.status_value",
                 id="status-value-text"),
    pytest.param('client:\n  id: "1"\n  status_value: 1.5\n', "client.status_value",
                 id="status-value-float"),
    pytest.param(MINIMAL + "timers: 30\n", "timers.scan_idle_s", id="timers-not-a-section"),
    pytest.param('client: "370011"\n', "client.id", id="client-not-a-section"),
    pytest.param(MINIMAL + "media:\n  cache_dir: [a, b]\n", "media.cache_dir",
                 id="cache-dir-list"),
    pytest.param(MINIMAL + "simulator:\n  port: 70000\n", "simulator.port", id="port-range"),
    pytest.param(MINIMAL + "guardian:\n  hang_s: 1\n", "guardian.hang_s", id="hang-too-short"),
    pytest.param(MINIMAL + "guardian:\n  hang_s: ten\n", "guardian.hang_s", id="hang-text"),
    pytest.param(MINIMAL + "maintenance:\n  registry_flags: HKLM\\SYSTEM\\X\n",
                 "maintenance.registry_flags", id="registry-flags-not-a-list"),
    pytest.param(MINIMAL + "maintenance:\n  registry_flags: ['SYSTEM\\iCafe8\\Admin']\n",
                 "maintenance.registry_flags", id="registry-flag-without-hive"),
    pytest.param(MINIMAL + "maintenance:\n  check_s: 0\n", "maintenance.check_s",
                 id="maintenance-check-zero"),
    pytest.param(MINIMAL + "admin:\n  password_hash: secret\n", "admin.password_hash",
                 id="password-not-hashed"),
    pytest.param(MINIMAL + "media:\n  hw_decode: 'yes'\n", "media.hw_decode",
                 id="hw-decode-as-text"),
    pytest.param(MINIMAL + "display:\n  monitor: 0\n", "display.monitor", id="monitor-zero"),
    pytest.param(MINIMAL + "display:\n  monitor: '0'\n", "display.monitor",
                 id="monitor-zero-text"),
    pytest.param(MINIMAL + "display:\n  monitor: ''\n", "display.monitor", id="monitor-empty"),
    pytest.param(MINIMAL + "display:\n  monitor: true\n", "display.monitor",
                 id="monitor-boolean"),
    pytest.param(MINIMAL + "display:\n  monitor: [1, 2]\n", "display.monitor",
                 id="monitor-list"),
    pytest.param(MINIMAL + "log:\n  remote: syslog.venue.lan:514\n", "log.remote",
                 id="remote-without-scheme"),
    pytest.param(MINIMAL + "log:\n  remote: https://syslog.venue.lan\n", "log.remote",
                 id="remote-http"),
    pytest.param(MINIMAL + "log:\n  remote: [udp://a]\n", "log.remote", id="remote-list"),
    pytest.param(MINIMAL + "log:\n  remote_queue: 0\n", "log.remote_queue",
                 id="remote-queue-zero"),
]


@pytest.mark.parametrize(("text", "key"), ERRORS)
def test_invalid_config_stops_startup_with_one_sentence_naming_the_key(tmp_path, text, key):
    assert_one_sentence_naming(error_of(write(tmp_path, text)), key)


def test_missing_file_is_named_in_one_sentence(tmp_path):
    missing = tmp_path / "nope" / "config.yaml"
    message = error_of(missing)
    assert_one_sentence_naming(message, str(missing))
    assert "cannot be read" in message


def test_folder_given_as_config_file_is_an_unreadable_file(tmp_path):
    message = error_of(tmp_path)
    assert_one_sentence_naming(message, str(tmp_path))
    assert "cannot be read" in message


def test_config_not_in_utf8_is_named(tmp_path):
    path = write(tmp_path, "client:\n  id: '网吧一号'\n".encode("gbk"))
    assert_one_sentence_naming(error_of(path), str(path))


@pytest.mark.parametrize(("text", "line"), [
    ("client:\n  id: '370011\n", None),
    ("client:\n  id: 1\n bad indent: 2\n", 3),
    ("client: {id: 1\n", None),
    ("server:\n\tbase_url: embedded\n", 2),
])
def test_malformed_yaml_is_named_with_its_line(tmp_path, text, line):
    path = write(tmp_path, text)
    message = error_of(path)
    assert_one_sentence_naming(message, str(path))
    assert "not valid YAML" in message
    if line is not None:
        assert f"line {line}" in message


@pytest.mark.parametrize("text", ["- server\n- client\n", "just text\n", "42\n", "[1, 2]\n"])
def test_yaml_that_is_not_a_mapping_is_refused(tmp_path, text):
    path = write(tmp_path, text)
    message = error_of(path)
    assert_one_sentence_naming(message, str(path))
    assert "server:" in message


def test_values_passed_in_are_validated_like_a_file(tmp_path):
    with pytest.raises(config.ConfigError, match="reboot.mode"):
        config.load(tmp_path / "config.yaml", {"client": {"id": "1"}, "reboot": {"mode": "x"}})
    cfg = config.load(tmp_path / "config.yaml", {"client": {"id": "1"}})
    assert cfg.client_id == "1" and cfg.cache_dir == tmp_path / "cache"


def test_client_id_with_leading_zero_is_kept_as_written(tmp_path):
    cfg = load_text(tmp_path, "client:\n  id: 0370011\n")
    assert cfg.client_id == "0370011"


def test_plain_numeric_client_id_is_read_as_text(tmp_path):
    assert load_text(tmp_path, "client:\n  id: 370011\n").client_id == "370011"


def test_misspelt_key_is_named_in_the_log_but_does_not_stop_the_kiosk(tmp_path, caplog):
    cfg = load_text(tmp_path, "client: {id: '7'}\ntimers:\n  scan_idel_s: 5\n  scan_poll_s: 2\n"
                              "extra_section: {a: 1}\n")
    assert cfg.timers.scan_poll_s == 2 and cfg.timers.scan_idle_s == 30
    assert "timers.scan_idel_s" in caplog.text and "extra_section" in caplog.text
    assert "scan_poll_s" not in caplog.text


def test_shipped_configs_have_no_unknown_keys(caplog):
    root = Path(__file__).resolve().parent.parent
    for name in ("config.yaml", "config.example-venue.yaml"):
        config.load(root / name)
    assert "not one this program knows" not in caplog.text


# --- a backend with its own certificate, and the request method ----------------------

PEM = ("-----BEGIN CERTIFICATE-----\n"
       "MIIBfTCCASOgAwIBAgIUEbpTsmTR5J35cX1Y1h6hKcrBz0owCgYIKoZIzj0EAwIw\n"
       "FDESMBAGA1UEAwwJMTI3LjAuMC4xMB4XDTI2MDEwMTAwMDAwMFoXDTM2MDEwMTAw\n"
       "MDAwMFowFDESMBAGA1UEAwwJMTI3LjAuMC4xMFkwEwYHKoZIzj0CAQYIKoZIzj0D\n"
       "AQcDQgAE1B4mWjqp8oqPYIzbUvxvQ1Tt0vI3GQ5A0MpllfHHCmWQ1hF+r4PbfZpQ\n"
       "Xq0wiVvb+a5fQhB1HTfFO6ZS0n3xjqNTMFEwHQYDVR0OBBYEFLvXQ2hZ5xRdrExA\n"
       "-----END CERTIFICATE-----\n")


def ca_file_in(folder: Path, name: str = "venue-ca.pem") -> Path:
    from tests.certs import make

    made = make(folder / "made", "ca")
    return write(folder, made.pem_file.read_text(), name)


def test_trust_and_method_default_to_public_cas_and_get(tmp_path):
    cfg = load_text(tmp_path, MINIMAL)
    assert cfg.ca_file is None and cfg.cert_sha256 is None and cfg.method == "GET"


@pytest.mark.parametrize("written", [PIN, PIN.upper(), ":".join(re.findall("..", PIN.upper()))])
def test_a_pin_is_read_plain_or_colon_separated(tmp_path, written):
    cfg = load_text(tmp_path, MINIMAL + f'server:\n  cert_sha256: "{written}"\n')
    assert cfg.cert_sha256 == PIN


def test_a_ca_file_is_read_relative_to_the_config_folder(tmp_path, monkeypatch):
    ca_file_in(tmp_path / "kiosk")
    monkeypatch.chdir(tmp_path)
    cfg = config.load(write(tmp_path / "kiosk", MINIMAL + "server:\n  ca_file: venue-ca.pem\n"))
    assert cfg.ca_file == tmp_path / "kiosk" / "venue-ca.pem"


@pytest.mark.parametrize("method", ["POST", "post", "GET", "Get"])
def test_the_method_is_read_in_any_case(tmp_path, method):
    assert load_text(tmp_path, MINIMAL + f"server:\n  method: {method}\n").method == \
        method.upper()


@pytest.mark.parametrize(("server", "key"), [
    pytest.param("ca_file: missing.pem", "server.ca_file", id="ca-file-missing"),
    pytest.param("ca_file: .", "server.ca_file", id="ca-file-a-folder"),
    pytest.param("ca_file: not-pem.txt", "server.ca_file", id="ca-file-not-pem"),
    pytest.param("ca_file: broken.pem", "server.ca_file", id="ca-file-broken-pem"),
    pytest.param("ca_file: key-only.pem", "server.ca_file", id="ca-file-a-key"),
])
def test_a_ca_file_that_is_no_pem_certificate_stops_startup_naming_the_key(tmp_path, server,
                                                                          key):
    write(tmp_path, "a text file, not a certificate\n", "not-pem.txt")
    write(tmp_path, PEM, "broken.pem")
    ca = ca_file_in(tmp_path)
    write(tmp_path, (ca.parent / "made" / "ca.key").read_text(), "key-only.pem")
    message = error_of(write(tmp_path, MINIMAL + f"server:\n  {server}\n"))
    assert_one_sentence_naming(message, key)


def test_trust_for_a_backend_without_https_is_said_in_the_log(tmp_path, caplog):
    cfg = load_text(tmp_path, MINIMAL + f'server:\n  base_url: http://10.0.0.5:8080\n'
                                        f'  cert_sha256: "{PIN}"\n')
    assert cfg.cert_sha256 == PIN
    assert any("apply to https:// only" in r.getMessage() for r in caplog.records)


def test_the_remote_log_is_off_by_default_and_names_its_collector(tmp_path):
    assert load_text(tmp_path, MINIMAL).log_remote is None
    cfg = load_text(tmp_path, MINIMAL + "log:\n  remote: tcp://10.0.0.5\n  remote_queue: 50\n")
    assert str(cfg.log_remote) == "tcp://10.0.0.5:601" and cfg.log_remote_queue == 50
    assert str(load_text(tmp_path, MINIMAL + "log:\n  remote: udp://logs:5514\n").log_remote) == (
        "udp://logs:5514")


def test_the_admin_hash_is_never_in_the_configs_text_nor_its_errors(tmp_path):
    from kiosk.admin import make_hash

    line = make_hash("pass word", 1000)
    cfg = load_text(tmp_path, MINIMAL + f'admin:\n  password_hash: "{line}"\n')
    assert line.split("$")[3] not in repr(cfg)  # a log line showing the config shows no hash
    broken = line[:-4] + "!!!!"
    message = error_of(write(tmp_path, MINIMAL + f'admin:\n  password_hash: "{broken}"\n'))
    assert "admin.password_hash" in message and broken.split("$")[2] not in message
