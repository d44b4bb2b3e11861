"""The backend simulator speaks the venue contract and bills like the real backend."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from datetime import datetime
from email.utils import formatdate
from pathlib import Path

import pytest
import requests

from kiosk.simulator import Simulator

RATE = 1.32
T0 = 1_700_000_000.0
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
ROOT = Path(__file__).resolve().parents[1]


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def files_dir(tmp_path: Path) -> Path:
    (tmp_path / "background.png").write_bytes(PNG)
    return tmp_path


@pytest.fixture
def sim(clock: FakeClock, files_dir: Path):
    simulator = Simulator(rate_per_min=RATE, files_dir=files_dir, clock=clock)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def get(sim: Simulator, http: requests.Session):
    def get(path: str, headers: dict | None = None, **params: str) -> requests.Response:
        return http.get(sim.base_url + path, params=params, headers=headers, timeout=2)

    return get


@pytest.fixture
def rest(get):
    return lambda path, **params: get(path, **params).json()


@pytest.fixture
def control(sim: Simulator, http: requests.Session):
    def control(action: str, **params: str) -> requests.Response:
        return http.post(f"{sim.base_url}/control/{action}", params=params, timeout=2)

    return control


def seconds_between(answer: dict) -> float:
    start, end = (datetime.fromisoformat(answer[k]) for k in ("startTime", "endTime"))
    return (end - start).total_seconds()


def test_start_binds_loopback_and_stop_frees_the_port(http):
    simulator = Simulator()
    url = simulator.start()
    assert url.startswith("http://127.0.0.1:") and url == simulator.base_url
    assert http.get(url + "/rest/serviceNum", timeout=2).json()["data"] == 1
    simulator.stop()
    with pytest.raises(requests.ConnectionError):
        http.get(url + "/rest/serviceNum", timeout=2)
    simulator.stop()


def test_service_number_is_served_and_can_be_changed(sim, http, rest, control):
    assert rest("/rest/serviceNum") == {"data": 1, "serviceNum": "13738196887"}
    assert control("service", num="4008123123").status_code == 200
    assert rest("/rest/serviceNum") == {"data": 1, "serviceNum": "4008123123"}
    http.post(sim.base_url + "/control/service", data={"num": "110"}, timeout=2)
    assert rest("/rest/serviceNum") == {"data": 1, "serviceNum": "110"}
    control("service", num="")
    assert rest("/rest/serviceNum") == {"data": 0}


def test_client_without_session_is_waiting(rest):
    assert rest("/rest/status_client", clientId="370011") == {
        "data": 1,
        "duration": 0,
        "unionId": "775233",
        "clientId": "370011",
        "cost": 0,
        "onlineStatus": 1,
        "charging": 0,
        "startTime": "",
        "endTime": "",
    }


def test_status_without_client_id_is_not_found(rest):
    assert rest("/rest/status_client") == {"data": 0}
    assert rest("/rest/status_client", clientId="") == {"data": 0}


def test_session_is_billed_per_started_minute(sim, rest, control, clock):
    sim.venue.report_timeout_s = 10_000
    control("start", clientId="7")
    for elapsed, minutes in [(0, 1), (59, 1), (60, 1), (61, 2), (3600, 60), (3601, 61)]:
        clock.now = T0 + elapsed
        answer = rest("/rest/status_client", clientId="7")
        assert (answer["duration"], answer["cost"]) == (minutes, round(minutes * RATE, 2))
        assert answer["charging"] == RATE


def test_status_goes_waiting_in_session_unpaid_and_back_to_waiting(rest, control, clock):
    assert control("start", clientId="7").json()["client"]["status"] == 2
    clock.advance(30)
    answer = rest("/rest/status_client", clientId="7")
    assert answer["onlineStatus"] == 2 and answer["startTime"]

    assert control("end", clientId="7").json()["client"]["status"] == 3
    clock.advance(600)
    ended = rest("/rest/status_client", clientId="7")
    assert (ended["onlineStatus"], ended["duration"], seconds_between(ended)) == (3, 1, 30)

    assert control("pay", clientId="7").json()["client"]["status"] == 1
    paid = rest("/rest/status_client", clientId="7")
    assert (paid["onlineStatus"], paid["cost"], paid["startTime"]) == (1, 0, "")


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ([], "end"),
        ([], "pay"),
        (["start"], "start"),
        (["start"], "pay"),
        (["start", "end"], "start"),
    ],
)
def test_phone_action_not_allowed_in_state_is_409_with_message(control, setup, action):
    for step in setup:
        control(step, clientId="7")
    response = control(action, clientId="7")
    assert response.status_code == 409
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.json()["ok"] is False and "7" in response.json()["error"]


def test_end_time_minus_start_time_is_elapsed_in_and_after_session(sim, rest, control, clock):
    sim.venue.report_timeout_s = 10_000
    clock.now = T0 + 0.4
    control("start", clientId="7")
    clock.advance(125)
    assert seconds_between(rest("/rest/status_client", clientId="7")) == 125
    rest("/rest/offline", clientId="7")
    clock.advance(300)
    assert seconds_between(rest("/rest/status_client", clientId="7")) == 125


def test_offline_ends_session_unpaid(rest, control, clock):
    control("start", clientId="7")
    clock.advance(50)
    rest("/rest/clientStatus", clientId="7", clientStatus="1")
    clock.advance(40)
    assert rest("/rest/offline", clientId="7") == {"data": 1}
    answer = rest("/rest/status_client", clientId="7")
    assert (answer["onlineStatus"], answer["duration"]) == (3, 2)


def test_offline_answers_0_when_not_in_session(rest, control):
    assert rest("/rest/offline", clientId="7") == {"data": 0}
    assert rest("/rest/offline") == {"data": 0}
    control("start", clientId="7")
    control("end", clientId="7")
    assert rest("/rest/offline", clientId="7") == {"data": 0}


def test_report_answers_follow_the_session(rest, control):
    def report() -> int:
        return rest("/rest/clientStatus", clientId="7", clientStatus="1")["data"]

    assert report() == 0
    control("start", clientId="7")
    assert report() == 1
    control("end", clientId="7")
    assert report() == 2
    control("pay", clientId="7")
    assert report() == 0
    assert rest("/rest/clientStatus", clientStatus="1") == {"data": 0}


def test_silent_session_ends_unpaid_after_report_timeout(rest, control, clock):
    control("start", clientId="7")
    clock.advance(60)
    assert rest("/rest/clientStatus", clientId="7", clientStatus="1") == {"data": 1}
    clock.advance(60)
    assert rest("/rest/status_client", clientId="7")["onlineStatus"] == 2
    clock.advance(0.5)
    ended = rest("/rest/status_client", clientId="7")
    assert (ended["onlineStatus"], seconds_between(ended)) == (3, 120)
    assert rest("/rest/clientStatus", clientId="7", clientStatus="1") == {"data": 2}


def test_ticker_ends_silent_session_without_any_request(sim, control, clock, monkeypatch):
    monkeypatch.setattr(Simulator, "TICK_S", 0.01)
    sim.stop()
    sim.start()
    control("start", clientId="7")
    clock.advance(61)
    deadline = time.monotonic() + 2
    while sim.venue.clients["7"].status != 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim.venue.clients["7"].status == 3


def test_background_is_served_with_caching_headers(get, files_dir):
    response = get("/files/background.png")
    assert response.status_code == 200 and response.content == PNG
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Length"] == str(len(PNG))
    last_modified = response.headers["Last-Modified"]
    assert last_modified == formatdate((files_dir / "background.png").stat().st_mtime, usegmt=True)

    def status_if_modified_since(value: str) -> int:
        return get("/files/background.png", headers={"If-Modified-Since": value}).status_code

    older = formatdate((files_dir / "background.png").stat().st_mtime - 10, usegmt=True)
    assert status_if_modified_since(last_modified) == 304
    assert status_if_modified_since(older) == 200
    assert status_if_modified_since("not a date") == 200


def test_video_is_served_when_present_and_404_otherwise(get, files_dir):
    assert get("/files/video.mp4").status_code == 404
    (files_dir / "video.mp4").write_bytes(b"mp4")
    response = get("/files/video.mp4")
    assert (response.status_code, response.headers["Content-Type"]) == (200, "video/mp4")


def test_media_is_404_without_files_dir(http):
    simulator = Simulator()
    url = simulator.start()
    try:
        assert http.get(url + "/files/background.png", timeout=2).status_code == 404
    finally:
        simulator.stop()


def test_control_page_is_html_with_the_phone_buttons(get):
    response = get("/")
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    for label in ("开始上机", "结束上机", "支付", "客服电话", "/control/state"):
        assert label in response.text


def test_phone_page_is_mobile_html_with_the_buttons(get):
    response = get("/phone", clientId="370011")
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert 'name="viewport"' in response.text
    for label in ("开始上机", "结束上机", "支付"):
        assert label in response.text
    assert get("/phone").status_code == 400


def test_unknown_path_is_404(get, http, sim):
    assert get("/rest/nope").status_code == 404
    assert http.post(sim.base_url + "/nope", timeout=2).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "params", "code"),
    [
        ("POST", "/control/start", {}, 400),
        ("POST", "/control/pay", {"clientId": " "}, 400),
        ("POST", "/control/service", {}, 400),
        ("POST", "/control/explode", {"clientId": "7"}, 404),
        ("GET", "/control/start", {"clientId": "7"}, 405),
        ("POST", "/control/state", {}, 405),
    ],
)
def test_bad_control_request_is_4xx_json(sim, http, method, path, params, code):
    response = http.request(method, sim.base_url + path, params=params, timeout=2)
    assert response.status_code == code
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert body["ok"] is False and body["error"]


def test_requests_are_counted_per_path_and_client(rest, get, control):
    rest("/rest/status_client", clientId="7")
    rest("/rest/status_client", clientId="7")
    rest("/rest/clientStatus", clientId="unknown-pc", clientStatus="1")
    get("/rest/nope", clientId="8")
    state = rest("/control/state")
    assert state["requests_by_path"] == {
        "/rest/status_client": 2,
        "/rest/clientStatus": 1,
        "/rest/nope": 1,
        "/control/state": 1,
    }
    assert {cid: c["requests"] for cid, c in state["clients"].items()} == {
        "7": 2,
        "unknown-pc": 1,
        "8": 1,
    }


def test_state_shows_each_client_for_the_control_page(rest, control, clock):
    control("start", clientId="7")
    clock.advance(30)
    rest("/rest/clientStatus", clientId="7", clientStatus="1")
    clock.advance(5)
    rest("/rest/offline", clientId="9")
    state = rest("/control/state")
    assert (state["service_num"], state["rate_per_min"]) == ("13738196887", RATE)
    seven = state["clients"]["7"]
    assert seven["status"] == 2 and seven["startTime"]
    assert (seven["elapsed_s"], seven["cost"], seven["reports"]) == (35, RATE, 1)
    assert (seven["last_report_age_s"], seven["offline_calls"]) == (5, 0)
    nine = state["clients"]["9"]
    assert (nine["status"], nine["offline_calls"], nine["last_report_age_s"]) == (1, 1, None)


def test_access_log_goes_to_debug_logging(rest, caplog):
    with caplog.at_level(logging.DEBUG, logger="kiosk.simulator"):
        rest("/rest/serviceNum")
    access = [r for r in caplog.records if "/rest/serviceNum" in r.getMessage()]
    assert [(r.name, r.levelno) for r in access] == [("kiosk.simulator", logging.DEBUG)]


@pytest.mark.linux  # sends SIGINT
def test_command_line_prints_control_url_and_stops_on_ctrl_c(http):
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk.simulator", "--port", "0", "--service-num", "110"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        url = line.split("control page: ")[1].split()[0]
        assert http.get(url + "rest/serviceNum", timeout=2).json()["serviceNum"] == "110"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=3) == 0
    finally:
        process.kill()
        process.stdout.close()


def test_ledger_lists_every_session_with_how_it_ended_and_every_arrival(
        sim, get, rest, control, clock):
    sim.venue.report_timeout_s = 60
    control("start", clientId="7")
    clock.advance(10)
    rest("/rest/clientStatus", clientId="7", clientStatus="1")
    rest("/rest/clientStatus", clientId="7", clientStatus="1")
    control("end", clientId="7")
    rest("/rest/offline", clientId="7")  # not in session: refused, and counted as such
    control("pay", clientId="7")
    control("start", clientId="7")
    clock.advance(5)
    rest("/rest/offline", clientId="7")
    control("pay", clientId="7")
    control("start", clientId="7")
    clock.advance(61)  # no report: the backend ends it
    rest("/rest/status_client", clientId="7")

    ledger = get("/control/ledger").json()
    client = ledger["clients"]["7"]
    assert [(s["ended_by"], s["paid"], s["reports"]) for s in client["sessions"]] == [
        ("phone", True, 2), ("offline", True, 0), ("report_timeout", False, 0)]
    first = client["sessions"][0]
    assert first["end"] - first["start"] == 10
    assert (client["offline_calls"], client["offline_refused"]) == (2, 1)
    paths = [path for _, path in ledger["arrivals"]]
    assert paths.count("/rest/clientStatus") == 2 and paths.count("/rest/offline") == 2
    assert paths[-1] == "/control/ledger"
    times = [t for t, _ in ledger["arrivals"]]
    assert times == sorted(times) and times[-1] == clock.now


@pytest.mark.linux  # sends SIGINT
def test_command_line_serves_https_with_a_given_certificate(http, tmp_path):
    from tests.certs import make

    cert = make(tmp_path, "backend")
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk.simulator", "--port", "0", "--cert", str(cert.pem_file),
         "--key", str(cert.key_file)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().split("control page: ")[1].split()[0]
        assert url.startswith("https://127.0.0.1:")
        answer = http.post(url + "rest/serviceNum", timeout=2, verify=str(cert.pem_file))
        assert answer.json()["data"] == 1
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=3) == 0
    finally:
        process.kill()
        process.stdout.close()


def test_command_line_refuses_a_certificate_it_cannot_load(tmp_path):
    (tmp_path / "cert.pem").write_text("not a certificate\n")
    done = subprocess.run([sys.executable, "-m", "kiosk.simulator", "--cert",
                           str(tmp_path / "cert.pem")], cwd=ROOT, capture_output=True, text=True,
                          timeout=20)
    assert done.returncode == 2 and "--cert/--key" in done.stderr
