"""The remote log (kiosk/remote_log.py): RFC 5424 messages, and a sender that never makes
its callers wait, against a real rsyslog on loopback (tests/collector.py)."""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest

from kiosk import remote_log
from kiosk.logs import Trace
from kiosk.remote_log import RemoteHandler, RemoteLog, Target, message, parse_target
from tests.collector import Blocker, Collector, free_port, parse, venue_lines
from tests.waiting import wait_until

PROTOCOLS = ("udp", "tcp")
FAST = (0.05, 0.2)  # the sender's pauses before connecting again, shortened


# --- the message, pure -------------------------------------------------------------------


def one(text: str = "page B (input)", limit: int = 2048, **params: object) -> bytes:
    return message(ts=1732800000.5, severity=6, hostname="PC-01", procid=42, msgid="scene",
                   params={"clientId": "370011", **params}, text=text, limit=limit)


def test_a_message_is_rfc5424_with_the_kiosk_as_app_and_the_client_in_its_data():
    line = one(page="B", reason="input").decode()
    found = parse(line)
    assert found is not None
    assert (found.facility, found.severity) == (16, 6)  # local0, info
    assert (found.hostname, found.app, found.procid, found.msgid) == ("PC-01", "kiosk", "42",
                                                                     "scene")
    assert found.params == {"clientId": "370011", "page": "B", "reason": "input"}
    assert re.fullmatch(r"2024-11-2\dT\d\d:\d\d:\d\d\.500[+-]\d\d:\d\d", found.timestamp)
    assert found.text == "page B (input)"


@pytest.mark.parametrize(("zone", "stamp"), [
    ("UTC", "2024-11-28T13:20:00.500+00:00"), ("Asia/Shanghai", "2024-11-28T21:20:00.500+08:00"),
    ("America/St_Johns", "2024-11-28T09:50:00.500-03:30")])
@pytest.mark.linux  # time.tzset
def test_timestamps_are_the_pcs_local_time_with_its_offset(monkeypatch, zone, stamp):
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        assert remote_log.timestamp(1732800000.5) == stamp
    finally:
        monkeypatch.undo()
        time.tzset()


def test_structured_data_values_are_escaped_and_header_fields_kept_printable():
    raw = message(ts=0, severity=4, hostname="网吧 PC 7", procid=1, msgid="log",
                  params={"reason": 'a "quoted" ] \\ reason', "page": None}, text="x",
                  limit=2048).decode()
    assert ' reason="a \\"quoted\\" \\] \\\\ reason"' in raw
    assert "page=" not in raw  # unknown values are left out, not sent as "None"
    found = parse(raw)
    assert found is not None and found.hostname == "___PC_7"
    assert found.params["reason"] == 'a "quoted" ] \\ reason'


def test_a_long_text_is_cut_to_the_limit_at_a_character_boundary():
    raw = one("请联系网管" * 1000, limit=600)
    assert len(raw) <= 600 and raw.endswith(b"...")
    raw.decode("utf-8")  # no half character left


@pytest.mark.parametrize(("text", "target"), [
    ("udp://10.0.0.5:514", Target("udp", "10.0.0.5", 514)),
    ("udp://logs.venue.lan", Target("udp", "logs.venue.lan", 514)),
    ("tcp://10.0.0.5", Target("tcp", "10.0.0.5", 601)),
    ("tcp://[fe80::1]:6514", Target("tcp", "fe80::1", 6514)),
])
def test_collector_addresses_are_read_with_the_registered_ports_as_defaults(text, target):
    assert parse_target(text) == target
    assert parse_target(str(target)) == target


@pytest.mark.parametrize("text", ["10.0.0.5:514", "http://h:514", "udp://", "tcp://h:0",
                                  "tcp://h:65536", "udp://a b", "tcp://user@h:601"])
def test_anything_else_is_no_collector_address(text):
    with pytest.raises(ValueError):
        parse_target(text)


def test_each_trace_event_reads_as_a_sentence_even_with_fields_missing():
    assert remote_log.event_text("reboot", {"reason": "rule5:onlineStatus=3"}) == (
        remote_log.NOTICE, "reboot because rule5:onlineStatus=3")
    severity, text = remote_log.event_text("reboot_failed", {})
    assert severity == remote_log.ERROR and "failed for ?:" in text
    assert remote_log.event_text("new_event", {"x": 1}) == (remote_log.INFO, "new_event")


# --- the sender against rsyslog -----------------------------------------------------------


@pytest.fixture(params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def collector(tmp_path: Path, protocol: str):
    with Collector(tmp_path / "rsyslog", protocol) as running:
        yield running


def sender(url: str, queue_size: int = 100) -> RemoteLog:
    return RemoteLog(parse_target(url), client_id="370011", hostname="PC-01",
                     queue_size=queue_size, retry_s=FAST)


@pytest.mark.linux  # a real rsyslogd
def test_trace_events_reach_the_collector_with_client_page_and_reason(collector):
    remote = sender(collector.url)
    trace = Trace(None, remote)
    trace.scene("B", "input")
    trace.reboot("rule5:onlineStatus=3")
    assert remote.flush(5)
    reboot = collector.wait_for(lambda m: m.msgid == "reboot", 10)
    assert reboot.params == {"clientId": "370011", "event": "reboot", "page": "B",
                             "reason": "rule5:onlineStatus=3"}
    assert reboot.text == "client 370011: reboot because rule5:onlineStatus=3"
    assert reboot.hostname == "PC-01" and reboot.procid == str(os.getpid())
    scene = collector.messages()[0]
    assert (scene.msgid, scene.params["page"], scene.params["reason"]) == ("scene", "B", "input")


@pytest.mark.linux  # a real rsyslogd
def test_warnings_go_to_the_collector_but_not_info_nor_the_senders_own_lines(collector):
    remote = sender(collector.url)
    handler = RemoteHandler(remote)
    kiosk_log = logging.getLogger("kiosk")  # the parent of the sender's own logger too
    kiosk_log.addHandler(handler)
    try:
        kiosk_log.info("an info line")
        logging.getLogger(remote_log.__name__).warning("the sender's own warning")
        logging.getLogger("kiosk.api").warning("status_client: network fault %s", "timeout")
        kiosk_log.error("a failure", exc_info=ValueError("boom"))
    finally:
        kiosk_log.removeHandler(handler)
    assert remote.flush(5)
    error = collector.wait_for(lambda m: m.params.get("level") == "ERROR", 10)
    assert error.severity == remote_log.ERROR and "ValueError: boom" in error.text
    first = collector.messages()[0]
    assert first.text == "client 370011: WARNING kiosk.api: status_client: network fault timeout"
    assert (first.params["logger"], first.params["event"]) == ("kiosk.api", "log")
    assert not any("info line" in m.text or "own warning" in m.text
                   for m in collector.messages())


@pytest.mark.linux  # a real rsyslogd
def test_a_collector_that_was_down_gets_the_newest_messages_and_the_count_of_the_rest(
        collector, protocol):
    remote = sender(collector.url, queue_size=5)
    remote.send("scene", "before")
    assert remote.flush(5)
    collector.wait_for(lambda m: m.text.endswith("before"), 10)
    collector.stop()

    # UDP learns that the collector went from the "port unreachable" answer to a message
    # it sent, which is lost: send until the sender noticed.
    tries = []

    def noticed() -> str | None:
        tries.append(1)
        remote.send("scene", "maybe lost")
        return remote.down

    wait_until(noticed, 20, interval=0.3, message="the sender never noticed")
    tries = len(tries)
    for i in range(12):
        remote.send("scene", f"while down {i}")
    assert not remote.flush(0.3)  # bounded: nothing leaves, nobody waits for long
    collector.start()
    report = collector.wait_for(lambda m: m.msgid == "remote_dropped", 20)
    assert report.params["clientId"] == "370011" and report.severity == remote_log.WARNING
    assert report.params["total"] == report.params["messages"]
    held = [f"while down {i}" for i in range(7, 12)]
    collector.wait_for(lambda m: m.text.endswith(held[-1]), 10)
    texts = [m.text.split(": ", 1)[1] for m in collector.messages()]
    assert texts[-6:] == [report.text.split(": ", 1)[1], *held]  # the count first, none twice
    dropped = int(report.params["messages"])
    if protocol == "tcp":  # nothing lost: every message that did not fit is counted
        assert dropped == tries + 12 - 5
    else:  # the ones whose "unreachable" told it are lost uncounted (at most each try)
        assert 12 - 5 <= dropped <= tries + 12 - 5


@pytest.mark.linux  # a real rsyslogd
def test_a_collector_that_accepts_nothing_never_makes_a_caller_wait(tmp_path, protocol):
    port = free_port(protocol)
    remote = sender(f"{protocol}://127.0.0.1:{port}", queue_size=50)
    with Blocker(protocol, port):
        for i in range(5000):
            remote.send("log", f"flood {i}")
        if protocol == "tcp":  # its connect hangs: the reboot's bounded wait gives up
            assert remote.flush(0.3) is False
    with Collector(tmp_path / "rsyslog", protocol, port) as collector:
        remote.send("log", "after")
        collector.wait_for(lambda m: m.text.endswith("after"), 30)
        if protocol == "tcp":  # the newest were held (UDP sent them into the void)
            report = collector.wait_for(lambda m: m.msgid == "remote_dropped", 10)
            floods = [int(m.text.rsplit(" ", 1)[1]) for m in collector.messages()
                      if "flood" in m.text]
            # The one in flight while the connect hung, then the newest, in order.
            assert floods[1:] == list(range(floods[1], 5000)) and len(floods) <= 51
            assert len(floods) + int(report.params["messages"]) == 5000
            assert collector.messages()[-1].text.endswith("after")


@pytest.mark.linux  # a real rsyslogd
def test_a_tcp_collector_that_stops_reading_is_given_up_on_and_the_rest_held(
        tmp_path, monkeypatch):
    monkeypatch.setattr(remote_log, "SEND_S", 0.5)
    port = free_port("tcp")
    remote = sender(f"tcp://127.0.0.1:{port}", queue_size=20)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listener.bind(("127.0.0.1", port))
    listener.listen(8)
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    try:
        def given_up() -> bool:
            """One more message, until the buffers are full and the sender, stuck for
            SEND_S, gives that connection up and connects again. Sent one by one: a burst
            would mostly be dropped by the queue and never fill them."""
            remote.send("log", "unread " + "x" * 200)
            return remote.connects >= 2

        wait_until(given_up, 20, interval=0.001,
                   message="the sender kept waiting on a collector that reads nothing")
    finally:
        listener.close()
        for sock in accepted:
            sock.close()
    # What that connection held is lost (no plain syslog transport can tell); what comes
    # after flows again.
    with Collector(tmp_path / "rsyslog", "tcp", port) as collector:
        remote.send("log", "after")
        collector.wait_for(lambda m: m.text.endswith("after"), 30)


@pytest.mark.linux  # /proc/self/fd
def test_connecting_again_and_again_leaks_no_thread_and_no_socket(protocol):
    threads, fds = threading.active_count(), len(os.listdir("/proc/self/fd"))
    closed = free_port(protocol)
    remote = RemoteLog(parse_target(f"{protocol}://127.0.0.1:{closed}"), client_id="1",
                       hostname="PC", retry_s=(0.01, 0.02))
    remote.send("scene", "never sent")
    seen = []
    for attempts in range(5, 30, 5):
        wait_until(lambda n=attempts: remote.connects >= n, 20, interval=0.01)
        seen.append((threading.active_count(), len(os.listdir("/proc/self/fd"))))
    assert remote.down is not None and remote.sent == 0
    # Its one thread and, while it tries, its one socket; never more.
    assert all(t <= threads + 1 and f <= fds + 1 for t, f in seen), (threads, fds, seen)
    remote.close(0)
    wait_until(lambda: threading.active_count() == threads, 5, message="the thread lives on")


def test_the_readmes_collector_lines_are_the_ones_the_tests_run():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert venue_lines("tcp", 601, "/var/log/kiosk.log") in readme
