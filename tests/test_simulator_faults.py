"""The simulator's fault switches put on the wire what their catalogue entry says."""

from __future__ import annotations

import json
import socket
import time

import pytest
import requests

from kiosk.simulator import Simulator
from kiosk.simulator.faults import CATALOGUE, ENDPOINTS, FOREIGN_CLIENT, Fault, FaultError

CLIENT = "370011"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


@pytest.fixture
def sim(tmp_path):
    (tmp_path / "background.png").write_bytes(PNG)
    simulator = Simulator(files_dir=tmp_path)
    simulator.start()
    yield simulator
    simulator.stop()


def status(sim, http, timeout: float = 5, **kwargs) -> requests.Response:
    return http.get(sim.base_url + ENDPOINTS["status"], params={"clientId": CLIENT},
                    timeout=timeout, **kwargs)


def set_fault(sim, http, **request) -> requests.Response:
    return http.post(sim.base_url + "/control/fault", json=request, timeout=5)


def test_every_fault_of_the_catalogue_can_be_set_through_the_control_api(sim, http):
    listed = http.get(sim.base_url + "/control/faults", timeout=5).json()
    assert set(listed["faults"]) == set(CATALOGUE) and "refuse" in listed["server_faults"]
    for name, kind in CATALOGUE.items():
        endpoint = sorted(kind.endpoints)[0]
        assert set_fault(sim, http, endpoint=endpoint, fault=name).status_code == 200
        active = http.get(sim.base_url + "/control/state", timeout=5).json()["faults"]["active"]
        assert active[endpoint]["cycle"] == [{"fault": name}]


@pytest.mark.parametrize(("request_body", "words"), [
    ({"endpoint": "status", "fault": "melt"}, "unknown fault"),
    ({"endpoint": "nowhere", "fault": "drop"}, "unknown endpoint"),
    ({"endpoint": "report", "fault": "foreign"}, "does not apply"),
    ({"endpoint": "report", "fault": "data0"}, "does not apply"),
    ({"endpoint": "status", "fault": "http", "code": 200}, "between"),
    ({"endpoint": "status", "fault": "stall", "seconds": "soon"}, "number"),
    ({"endpoint": "status", "fault": "wrong_types", "variant": "tuples"}, "variant"),
    ({"fault": "drop"}, "endpoint missing"),
    ({"fault": "refuse"}, "seconds"),
    ({"endpoint": "status", "cycle": "drop"}, "cycle"),
])
def test_a_fault_the_catalogue_does_not_allow_is_a_400_naming_the_problem(sim, http, request_body,
                                                                          words):
    response = set_fault(sim, http, **request_body)
    assert response.status_code == 400 and words in response.json()["error"]
    assert http.get(sim.base_url + "/control/state", timeout=5).json()["faults"]["active"] == {}


def test_faults_can_also_be_set_with_query_parameters(sim, http):
    response = http.post(sim.base_url + "/control/fault", timeout=5,
                         params={"endpoint": "status", "fault": "http", "code": "503"})
    assert response.status_code == 200
    assert status(sim, http).status_code == 503


@pytest.mark.parametrize(("fault", "code", "content_type", "body_check"), [
    ({"fault": "http"}, 500, "text/plain", lambda b: b == b"Internal Server Error"),
    ({"fault": "http", "code": 404}, 404, "text/plain", lambda b: b == b"Not Found"),
    ({"fault": "html"}, 200, "text/html", lambda b: b.startswith(b"<html>")),
    ({"fault": "html", "code": 502}, 502, "text/html", lambda b: b"502" in b),
    ({"fault": "garbage"}, 200, "application/json", lambda b: b == b'{"data":1,"onlineStatus":'),
    ({"fault": "data0"}, 200, "application/json", lambda b: b.decode() == "{“data”:0}"),
    ({"fault": "bad_utf8"}, 200, "application/json", lambda b: b"\xff" in b),
])
def test_answer_faults_send_what_they_say(sim, http, fault, code, content_type, body_check):
    set_fault(sim, http, endpoint="status", **fault)
    response = status(sim, http)
    assert response.status_code == code
    assert response.headers["Content-Type"].startswith(content_type)
    assert body_check(response.content)


@pytest.mark.parametrize(("variant", "expected"), [
    ("nulls", {"data": None, "onlineStatus": None, "clientId": None}),
    ("strings", {"data": "1", "onlineStatus": "1", "clientId": CLIENT}),
    ("booleans", {"data": True, "onlineStatus": True, "clientId": CLIENT}),
    ("objects", {"data": {"value": 1}, "onlineStatus": {"value": 1}}),
])
def test_wrong_types_turn_every_value_of_the_normal_answer(sim, http, variant, expected):
    set_fault(sim, http, endpoint="status", fault="wrong_types", variant=variant)
    answer = status(sim, http).json()
    assert {key: answer[key] for key in expected} == expected


def test_wrong_types_array_wraps_the_normal_answer(sim, http):
    set_fault(sim, http, endpoint="report", fault="wrong_types", variant="array")
    answer = http.get(sim.base_url + ENDPOINTS["report"], params={"clientId": CLIENT},
                      timeout=5).json()
    assert answer == [{"data": 0}]


def test_foreign_answer_names_another_client_with_the_status_that_would_act(sim, http):
    set_fault(sim, http, endpoint="status", fault="foreign")
    waiting = status(sim, http).json()
    assert (waiting["clientId"], waiting["onlineStatus"]) == (FOREIGN_CLIENT, 2)
    sim.venue.start(CLIENT)
    in_session = status(sim, http).json()
    assert (in_session["clientId"], in_session["onlineStatus"]) == (FOREIGN_CLIENT, 3)


def test_truncated_answer_announces_more_than_it_sends(sim, http):
    set_fault(sim, http, endpoint="status", fault="truncated")
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="more expected"):
        status(sim, http)


@pytest.mark.parametrize("fault", ["drop", "reset"])
def test_dropped_and_reset_connections_give_no_answer(sim, http, fault):
    set_fault(sim, http, endpoint="status", fault=fault)
    with pytest.raises(requests.ConnectionError):
        status(sim, http)


def test_huge_answer_is_streamed_and_the_server_survives_a_reader_hanging_up(sim, http):
    set_fault(sim, http, endpoint="status", fault="huge")
    with status(sim, http, stream=True) as response:
        assert response.headers["Content-Length"] == str(10 * 1024 * 1024)
        assert response.raw.read(40).startswith(b'{"data":1,"onlineStatus":2,"pad":"xx')
    set_fault(sim, http, fault="clear")
    assert status(sim, http).json()["clientId"] == CLIENT


def test_stall_answers_normally_after_its_seconds_and_clearing_lets_it_go(sim, http):
    set_fault(sim, http, endpoint="status", fault="stall", seconds=0.5)
    started = time.monotonic()
    assert status(sim, http).json()["clientId"] == CLIENT
    assert 0.5 <= time.monotonic() - started < 5
    set_fault(sim, http, endpoint="status", fault="stall", seconds=60)
    with pytest.raises(requests.Timeout):
        status(sim, http, timeout=0.5)  # the client gives up long before the 60 s
    started = time.monotonic()
    sim.faults.clear()
    assert status(sim, http).json()["clientId"] == CLIENT
    assert time.monotonic() - started < 5


def test_trickle_sends_the_normal_answer_one_byte_at_a_time(sim, http):
    set_fault(sim, http, endpoint="status", fault="trickle", seconds=3)
    started = time.monotonic()
    with status(sim, http, stream=True) as response:
        first = response.raw.read1(1000)
        rest = response.raw.read()
    body = first + rest
    # a byte every 20 ms: even a reader held up a few hundred ms finds only part of it
    assert len(first) < len(body) // 2 and json.loads(body)["clientId"] == CLIENT
    assert time.monotonic() - started >= 2.5


def test_media_faults_apply_to_files(sim, http):
    set_fault(sim, http, endpoint="background", fault="garbage")
    response = http.get(sim.base_url + ENDPOINTS["background"], timeout=5)
    assert response.headers["Content-Type"] == "image/png" and not response.content.startswith(
        b"\x89PNG")
    set_fault(sim, http, endpoint="background", fault="stall", seconds=0.1)
    assert http.get(sim.base_url + ENDPOINTS["background"], timeout=5).content == PNG


def test_a_cycle_plays_its_steps_in_turn_and_count_ends_it(sim, http):
    set_fault(sim, http, endpoint="status", count=4,
              cycle=[{"fault": "http", "code": 503}, {"fault": "none"}])
    codes = [status(sim, http).status_code for _ in range(5)]
    assert codes == [503, 200, 503, 200, 200]
    played = http.get(sim.base_url + "/control/state", timeout=5).json()["faults"]["played"]
    assert played == {"status:http": 2, "status:none": 2}


def test_faults_answered_without_the_backend_do_not_reach_the_venue(sim, http):
    sim.venue.start(CLIENT)
    set_fault(sim, http, endpoint="report", fault="http")
    http.get(sim.base_url + ENDPOINTS["report"], params={"clientId": CLIENT}, timeout=5)
    assert sim.venue.clients[CLIENT].reports == 0
    set_fault(sim, http, endpoint="report", fault="truncated")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        http.get(sim.base_url + ENDPOINTS["report"], params={"clientId": CLIENT}, timeout=5)
    assert sim.venue.clients[CLIENT].reports == 1


def test_clearing_one_endpoint_keeps_the_others(sim, http):
    set_fault(sim, http, endpoint="status", fault="http")
    set_fault(sim, http, endpoint="report", fault="http")
    set_fault(sim, http, endpoint="status", fault="clear")
    assert status(sim, http).status_code == 200
    assert http.get(sim.base_url + ENDPOINTS["report"], timeout=5).status_code == 500


def test_refuse_stops_listening_and_listens_again_on_the_same_port(sim, http):
    url = sim.base_url
    assert set_fault(sim, http, fault="refuse", seconds=3).json()["ok"] is True
    deadline = time.monotonic() + 5
    while sim.listening and time.monotonic() < deadline:
        time.sleep(0.01)
    host, port = url.removeprefix("http://").split(":")
    with pytest.raises(ConnectionRefusedError), socket.create_connection((host, int(port)), 1):
        pass
    deadline = time.monotonic() + 10
    while not sim.listening and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sim.base_url == url and status(sim, http).json()["clientId"] == CLIENT


def test_refuse_until_told_and_stop_while_down(sim, http):
    sim.refuse()
    with pytest.raises(requests.ConnectionError):
        status(sim, http)
    sim.listen_again()
    assert status(sim, http).status_code == 200
    sim.refuse()
    sim.stop()
    assert not sim.listening


def test_fault_steps_fill_in_their_defaults():
    assert Fault("stall")["seconds"] == 15.0 and Fault("huge")["bytes"] == 10 * 1024 * 1024
    assert Fault("stall", {"seconds": 2.0})["seconds"] == 2.0
    with pytest.raises(FaultError):
        Simulator().faults.set("status", [])


def test_the_control_page_sets_and_clears_faults(sim, http):
    page = http.get(sim.base_url + "/", timeout=5).text
    for part in ("故障注入", "/control/faults", "/control/fault", "fault-clear", "refuse"):
        assert part in page
