"""``client.id: auto``: one disk image for a venue, each PC finding its own clientId."""

from __future__ import annotations

import logging
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk import config, identity
from kiosk.identity import Identity, Machine, Unregistered
from kiosk.platform import machine as machine_facts

PC12 = Machine("PC-12", ("52:54:00:12:34:56",))
CSV = """hostname,mac,client_id
# front row
PC-01,52-54-00-AA-BB-01,370001
,52:54:00:12:34:56,370012

pc-13,,370013
"""


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def auto_config(folder: Path, client: str, csv_text: str | None = CSV) -> config.Config:
    if csv_text is not None:
        write(folder, "clients.csv", csv_text)
    return config.load(write(folder, "config.yaml", f"client:\n  id: auto\n{client}"))


def never_read() -> Machine:
    raise AssertionError("the machine was read although client.id is fixed")


def map_error(folder: Path, csv_text: str | bytes) -> str:
    path = write(folder, "clients.csv", csv_text)
    with pytest.raises(config.ConfigError) as caught:
        identity.read_map(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    return message


# --- finding the id ------------------------------------------------------------------


def test_fixed_id_is_used_as_is_and_the_machine_is_not_even_looked_at(tmp_path):
    cfg = config.load(write(tmp_path, "config.yaml", 'client:\n  id: "370011"\n'))
    assert identity.resolve(cfg, never_read) == Identity("370011", "config.yaml")


def test_mapping_file_finds_the_pc_by_mac_whatever_the_separator_or_case(tmp_path):
    cfg = auto_config(tmp_path, "  map_file: clients.csv\n")
    for mac in ("52:54:00:aa:bb:01", "52:54:00:AA:BB:01"):
        found = identity.resolve(cfg, lambda mac=mac: Machine("renamed", ("aa:aa:aa:aa:aa:aa",
                                                                          mac.lower())))
        assert found == Identity("370001", "clients.csv by MAC 52:54:00:aa:bb:01")


def test_mac_wins_over_a_hostname_that_names_another_pc_and_the_clash_is_logged(tmp_path,
                                                                                caplog):
    cfg = auto_config(tmp_path, "  map_file: clients.csv\n")
    found = identity.resolve(cfg, lambda: Machine("PC-13", ("52:54:00:12:34:56",)))
    assert found == Identity("370012", "clients.csv by MAC 52:54:00:12:34:56")
    assert ("clients.csv gives this PC 370012 by MAC but 370013 by hostname PC-13; "
            "using 370012") in caplog.text


@pytest.mark.parametrize("hostname", ["PC-13", "pc-13", "Pc-13.cafe.lan"])
def test_mapping_file_finds_the_pc_by_hostname_in_any_case_and_without_its_domain(
        tmp_path, hostname):
    cfg = auto_config(tmp_path, "  map_file: clients.csv\n")
    found = identity.resolve(cfg, lambda: Machine(hostname, ("02:00:00:00:00:99",)))
    assert found == Identity("370013", f"clients.csv by hostname {hostname}")


@pytest.mark.parametrize(("template", "hostname", "expected"), [
    ("{0}", "PC-7", "7"),
    ("3700{0}", "pc-12", "370012"),
    ("37{0:0>4}", "PC-7", "370007"),
])
def test_hostname_pattern_makes_the_id_from_the_number_in_the_name(
        tmp_path, template, hostname, expected):
    cfg = auto_config(tmp_path, f'  hostname_pattern: "PC-(\\\\d+)"\n  id_template: "{template}"\n',
                      csv_text=None)
    found = identity.resolve(cfg, lambda: Machine(hostname))
    assert found == Identity(expected, f"hostname {hostname} by pattern PC-(\\d+)")


def test_mapping_file_is_asked_before_the_pattern(tmp_path):
    cfg = auto_config(tmp_path, '  map_file: clients.csv\n  hostname_pattern: "PC-(\\\\d+)"\n')
    assert identity.resolve(cfg, lambda: Machine("PC-13")).client_id == "370013"
    assert identity.resolve(cfg, lambda: Machine("PC-44")).client_id == "44"


@pytest.mark.parametrize("hostname", ["PC-99", "PC-", "RECEPTION", "XPC-12"])
def test_a_machine_no_rule_knows_is_unregistered_not_given_a_wrong_id(tmp_path, hostname):
    cfg = auto_config(tmp_path, '  map_file: clients.csv\n  hostname_pattern: "PC-(\\\\d)"\n')
    seen = Machine(hostname, ("02:00:00:00:00:99",))
    assert identity.resolve(cfg, lambda: seen) == Unregistered(seen, tmp_path / "clients.csv")


def test_identify_fills_in_the_id_and_logs_where_it_came_from(tmp_path, caplog):
    cfg = auto_config(tmp_path, "  map_file: clients.csv\n")
    with caplog.at_level(logging.INFO, logger="kiosk.identity"):
        found, unregistered = identity.identify(cfg, lambda: PC12)
    assert unregistered is None
    assert (found.client_id, found.client_id_source) == (
        "370012", "clients.csv by MAC 52:54:00:12:34:56")
    assert "client id 370012 (from clients.csv by MAC 52:54:00:12:34:56)" in caplog.text


def test_identify_logs_an_unregistered_machine_with_its_hostname_and_macs(tmp_path, caplog):
    cfg = auto_config(tmp_path, "  map_file: clients.csv\n")
    stranger = Machine("PC-77", ("02:00:00:00:00:77", "02:00:00:00:00:78"))
    with caplog.at_level(logging.INFO, logger="kiosk.identity"):
        found, unregistered = identity.identify(cfg, lambda: stranger)
    assert unregistered == Unregistered(stranger, tmp_path / "clients.csv")
    assert found.client_id == "auto" and found.client_id_source == "not registered"
    assert "PC-77" in caplog.text and "02:00:00:00:00:77, 02:00:00:00:00:78" in caplog.text


# --- the mapping file ------------------------------------------------------------------


def test_mapping_file_saved_by_excel_with_a_bom_or_as_gbk_is_read(tmp_path):
    for raw in ("\ufeff" + CSV.replace("# front row", "# 前排")).encode("utf-8"), \
            CSV.replace("# front row", "# 前排").encode("gbk"):
        found = identity.read_map(write(tmp_path, "clients.csv", raw))
        assert found.find(PC12) == Identity("370012", "clients.csv by MAC 52:54:00:12:34:56")


@pytest.mark.parametrize(("text", "says"), [
    ("", "must start with the header line hostname,mac,client_id"),
    ("PC-01,52:54:00:aa:bb:01,370001\n", "must start with the header line"),
    ("hostname,client_id\nPC-01,370001\n", "must start with the header line"),
    ("hostname,mac,client_id\nPC-01,370001\n", "line 2 must have 3 fields"),
    ("hostname,mac,client_id\nPC-01,,\n", "line 2 has an empty client_id"),
    ("hostname,mac,client_id\n,, 370001\n", "line 2 needs a hostname or a mac"),
    ("hostname,mac,client_id\nPC-01,52:54:00:aa:bb,370001\n",
     "line 2: '52:54:00:aa:bb' is not a MAC address"),
    ("hostname,mac,client_id\nPC-01,,370001\n\nPC-02,,370001\n",
     "line 4: client_id 370001 is already on line 2"),
    ("hostname,mac,client_id\nPC-01,,370001\npc-01,,370002\n",
     "line 3: hostname pc-01 is already on line 2"),
    ("hostname,mac,client_id\n,52-54-00-AA-BB-01,370001\n,52:54:00:aa:bb:01,370002\n",
     "line 3: mac 52:54:00:aa:bb:01 is already on line 2"),
])
def test_a_malformed_mapping_file_names_the_file_and_the_line(tmp_path, text, says):
    assert says in map_error(tmp_path, text)


def test_a_missing_mapping_file_stops_the_start_naming_it(tmp_path):
    cfg = auto_config(tmp_path, "  map_file: venue/clients.csv\n", csv_text=None)
    with pytest.raises(config.ConfigError, match=re.escape(str(tmp_path / "venue"))):
        identity.resolve(cfg, lambda: PC12)


# --- the config keys --------------------------------------------------------------------


@pytest.mark.parametrize(("client", "key"), [
    ("", "client.id is auto, so client.map_file or client.hostname_pattern must be set"),
    ('  hostname_pattern: "PC-(\\\\d+"\n', "client.hostname_pattern is not a valid regular"),
    ('  hostname_pattern: "PC-\\\\d+"\n', "client.hostname_pattern needs a group"),
    ('  hostname_pattern: "PC-(\\\\d+)"\n  id_template: "370011"\n',
     "client.id_template must use {0}"),
    ('  hostname_pattern: "PC-(\\\\d+)"\n  id_template: "37{1}"\n',
     "client.id_template must use {0}"),
])
def test_auto_id_config_mistakes_stop_the_start_with_one_sentence(tmp_path, client, key):
    write(tmp_path, "config.yaml", f"client:\n  id: auto\n{client}")
    with pytest.raises(config.ConfigError) as caught:
        config.load(tmp_path / "config.yaml")
    message = str(caught.value)
    assert key in message and "\n" not in message
    assert len(re.findall(r"[.!?](?:\s|$)", message)) == 1, message


def test_map_file_is_relative_to_the_config_folder(tmp_path):
    cfg = auto_config(tmp_path, "  map_file: clients.csv\n")
    assert cfg.client_map_file == tmp_path / "clients.csv"
    assert cfg.client_id_template == "{0}" and cfg.client_hostname_pattern is None


# --- reading the machine ----------------------------------------------------------------


def fake_net(root: Path, cards: dict[str, tuple[str, bool]]) -> Path:
    """A /sys/class/net tree: name → (address, has a device link)."""
    for name, (address, physical) in cards.items():
        (root / name).mkdir(parents=True)
        (root / name / "address").write_text(address + "\n")
        if physical:
            (root / name / "device").mkdir()
    return root


def test_linux_lists_physical_cards_and_skips_loopback_and_zero_addresses(tmp_path):
    net = fake_net(tmp_path / "net", {
        "lo": ("00:00:00:00:00:00", False), "eth0": ("52:54:00:12:34:56", True),
        "wlan0": ("AC:DE:48:00:11:22", True), "docker0": ("02:42:ac:11:00:02", False),
        "dummy0": ("00:00:00:00:00:00", True)})
    assert machine_facts.linux_macs(net) == ("52:54:00:12:34:56", "ac:de:48:00:11:22")


def test_linux_falls_back_to_virtual_cards_when_there_is_no_physical_one(tmp_path):
    net = fake_net(tmp_path / "net", {"lo": ("00:00:00:00:00:00", False),
                                      "ens3": ("52:54:00:00:00:03", False)})
    assert machine_facts.linux_macs(net) == ("52:54:00:00:00:03",)
    assert machine_facts.linux_macs(tmp_path / "missing") == ()


GETMAC_OUTPUT = (b'"00-15-5D-01-02-03","\\Device\\Tcpip_{4A1B}"\r\n'
                 b'"N/A","Hardware not present"\r\n'
                 b'"0A-00-27-00-00-0C","Media disconnected"\r\n'
                 b'"Disabled","Disconnected"\r\n')


def fake_run(calls: list, result: object):
    def run(argv, **options):
        calls.append((argv, options))
        if isinstance(result, BaseException):
            raise result
        return result
    return run


def test_windows_asks_getmac_without_a_console_window_and_keeps_real_addresses():
    calls: list = []
    done = subprocess.CompletedProcess(list(machine_facts.GETMAC), 0, GETMAC_OUTPUT, b"")
    macs = machine_facts.windows_macs(fake_run(calls, done))
    assert macs == ("00:15:5d:01:02:03", "0a:00:27:00:00:0c")
    (argv, options), = calls
    assert argv == ["getmac", "/fo", "csv", "/nh"]
    assert options["creationflags"] == 0x08000000 and options["timeout"] > 0


@pytest.mark.parametrize("result", [
    FileNotFoundError("getmac"),
    subprocess.TimeoutExpired("getmac", 15),
    subprocess.CompletedProcess(["getmac"], 1, b"ERROR: access denied", b""),
])
def test_windows_without_getmac_answers_leaves_the_hostname_to_identify_the_pc(result, caplog):
    assert machine_facts.windows_macs(fake_run([], result)) == ()
    assert "getmac failed" in caplog.text


def test_this_machine_uses_getmac_on_windows_and_sys_on_linux(tmp_path):
    done = subprocess.CompletedProcess(["getmac"], 0, GETMAC_OUTPUT, b"")
    windows = machine_facts.this_machine("win32", fake_run([], done), net=tmp_path / "none")
    assert windows.macs[0] == "00:15:5d:01:02:03"
    net = fake_net(tmp_path / "net", {"eth0": ("52:54:00:12:34:56", True)})
    linux = machine_facts.this_machine("linux", fake_run([], AssertionError("ran")), net=net)
    assert linux.macs == ("52:54:00:12:34:56",)
    assert windows.hostname == linux.hostname == machine_facts.hostname() != ""


@pytest.mark.win32
def test_windows_reads_its_hostname_and_asks_getmac_where_there_is_one(caplog):
    """Windows has getmac.exe in System32 (since XP); Wine 8 has none, so under Wine the PC
    is known by its hostname alone, and the log says why."""
    found = machine_facts.this_machine()
    assert found.hostname == socket.gethostname() != ""
    if shutil.which("getmac") is None:
        assert found.macs == () and "getmac failed" in caplog.text
    else:
        assert found.macs and all(identity.normalize_mac(mac) == mac for mac in found.macs)


@pytest.mark.win32
def test_windows_getmac_is_started_without_a_console_and_read_from_its_pipe():
    """Wine has no getmac.exe: a stand-in prints what ``getmac /fo csv /nh`` prints,
    started by the real CreateProcess with the kiosk's own options (CREATE_NO_WINDOW, the
    timeout, the output captured)."""
    calls: list = []

    def run(argv, **options):
        calls.append(argv)
        stand_in = f"import sys; sys.stdout.buffer.write({GETMAC_OUTPUT!r})"
        return subprocess.run([sys.executable, "-c", stand_in], **options)

    assert machine_facts.windows_macs(run) == ("00:15:5d:01:02:03", "0a:00:27:00:00:0c")
    assert calls == [["getmac", "/fo", "csv", "/nh"]]


# --- what the operator sees ---------------------------------------------------------------


def test_unregistered_page_shows_the_line_the_operator_adds_to_the_mapping_file(tmp_path):
    import os

    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame

    from kiosk.flow import Flow, Timers
    from kiosk.scenes.base import Context
    from kiosk.scenes.unregistered import BACKGROUND, UnregisteredScene

    pygame.font.init()
    timers = Timers(scan_idle_s=30, scan_poll_s=1, session_report_s=10, session_poll_s=2,
                    after_confirm_reboot_s=180, unpaid_poll_s=1)
    ctx = Context(flow=Flow(timers), client_id="", scan_qr="", pay_qr="")
    stranger = Machine("PC-77", ("02:00:00:00:00:77", "02:00:00:00:00:78"))
    scene = UnregisteredScene(ctx, Unregistered(stranger, tmp_path / "venue.csv"))

    lines = scene.lines()
    assert "PC-77" in lines[0]
    assert "02:00:00:00:00:77, 02:00:00:00:00:78" in lines[1]
    assert "venue.csv" in lines[2] and "PC-77,02:00:00:00:00:77," in lines[2]
    for key in ("keydown", "mousebuttondown"):
        event = pygame.event.Event(getattr(pygame, key.upper()), key=pygame.K_ESCAPE,
                                   button=1, pos=(1, 1))
        assert scene.handle_event(event) is None  # nothing on it unlocks or leaves it

    surface = pygame.Surface((1280, 720))
    scene.draw(surface, 0.0)
    assert surface.get_at((5, 5))[:3] == BACKGROUND
    drawn = {surface.get_at((x, y))[:3] for x in range(0, 1280, 4) for y in range(100, 500, 4)}
    assert len(drawn) > 10  # title, hint and facts are on it, not a plain fill


def test_a_malformed_mapping_file_stops_the_kiosk_with_code_2_naming_the_line(tmp_path,
                                                                              capsys):
    import main

    write(tmp_path, "clients.csv", "hostname,mac,client_id\nPC-01,,\n")
    path = write(tmp_path, "config.yaml",
                 f"client:\n  id: auto\n  map_file: clients.csv\nlog:\n  dir: {tmp_path}/logs\n")
    assert main.main(["--config", str(path)]) == 2
    assert f"client map file {tmp_path / 'clients.csv'} line 2 has an empty client_id." in (
        capsys.readouterr().err)


def test_install_is_reached_through_main_py(tmp_path, capsys, monkeypatch):
    import main

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    path = write(tmp_path, "config.yaml", 'client:\n  id: "370011"\n')
    assert main.main(["install", "--dry-run", "--config", str(path)]) == 0
    assert capsys.readouterr().out.startswith("would create ")
    assert not (tmp_path / "home").exists()
