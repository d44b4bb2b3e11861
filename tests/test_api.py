"""The HTTP edge (DESIGN.md §3): right paths and parameters, and every failure becomes a fault."""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from responses import matchers

from kiosk import api
from kiosk.contract import (
    ForeignAnswer,
    NetworkFault,
    NotFound,
    Offline,
    Report,
    ServiceNumber,
    Status,
)
from kiosk.simulator import Simulator

SPEC_SESSION = "775233 2017-08-07 16:32:20"  # unionId and startTime of the examples

BASE = "http://47.92.114.240:8080"
CLIENT = "370011"

SPEC_RUNNING = ('{"data":1,"duration":2457,"unionId":"775233","clientId":"370011",'
                '"cost":3243.24,"onlineStatus":2,"charging":1.32,'
                '"startTime":"2017-08-07 16:32:20","endTime":"2017-08-09 09:30:05"}')
SPEC_ENDED = ('{"data":1,"duration":30,"unionId":"775233","clientId":"370011","cost":39.6,'
              '"onlineStatus":3,"charging":1.32,"startTime":"2017-08-07 16:32:20",'
              '"endTime":"2017-08-07 16:35:12“}')


@pytest.fixture
def backend():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def client():
    kiosk_api = api.Api(BASE, CLIENT, timeout_s=4)
    yield kiosk_api
    kiosk_api.close()


CALLS = {  # call → (path, answer that parses, the parsed answer)
    "status": ("/rest/status_client", SPEC_RUNNING,
               Status(2, 2457, 3243.24, 1.32, 147465, SPEC_SESSION)),
    "report": ("/rest/clientStatus", '{"data":1}', Report(1)),
    "offline": ("/rest/offline", '{"data":1}', Offline(True)),
    "service_number": ("/rest/serviceNum", '{"data":1,"serviceNum":"13738196887"}',
                       ServiceNumber("13738196887")),
}


def call(kiosk_api: api.Api, name: str):
    return getattr(kiosk_api, name)()


# --- paths and parameters --------------------------------------------------------


@pytest.mark.parametrize(("name", "params"), [
    ("status", {"clientId": CLIENT}),
    ("report", {"clientId": CLIENT, "clientStatus": "1"}),
    ("offline", {"clientId": CLIENT}),
    ("service_number", {}),
])
def test_each_call_sends_the_specified_path_and_parameters(backend, client, name, params):
    path, body, expected = CALLS[name]
    backend.get(BASE + path, body=body, match=[matchers.query_param_matcher(params)])
    assert call(client, name) == expected
    assert len(backend.calls) == 1
    request = backend.calls[0].request
    assert request.method == "GET" and request.body is None
    assert urlsplit(request.url).path == path


@pytest.mark.parametrize(("name", "params"), [
    ("status", {"clientId": CLIENT}),
    ("report", {"clientId": CLIENT, "clientStatus": "1"}),
    ("offline", {"clientId": CLIENT}),
    ("service_number", {}),
])
def test_with_post_each_call_sends_the_same_inputs_form_encoded_in_the_body(backend, name,
                                                                            params):
    path, body, expected = CALLS[name]
    backend.post(BASE + path, body=body, match=[matchers.query_param_matcher({})])
    assert call(api.Api(BASE, CLIENT, timeout_s=4, method="POST"), name) == expected
    request = backend.calls[0].request
    assert request.method == "POST" and urlsplit(request.url) == urlsplit(BASE + path)
    assert parse_qs(request.body or "") == {key: [value] for key, value in params.items()}
    if params:
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_an_unknown_method_is_refused_when_the_api_is_made():
    with pytest.raises(ValueError, match="PUT"):
        api.Api(BASE, CLIENT, timeout_s=4, method="PUT")


def simulator_answers(method: str) -> list[object]:
    """A session's calls, in the order a kiosk makes them, against a fresh simulator."""
    sim = Simulator(clock=lambda: 1_700_000_000.0)
    kiosk_api = api.Api(sim.start(), CLIENT, timeout_s=4, method=method)
    try:
        before = [kiosk_api.service_number(), kiosk_api.status()]
        sim.venue.start(CLIENT)
        answers = [*before, kiosk_api.status(), kiosk_api.report(), kiosk_api.offline(),
                   kiosk_api.status()]
        sim.faults.configure({"endpoint": "status", "fault": "http", "code": 503})
        return [*answers, kiosk_api.status()]
    finally:
        kiosk_api.close()
        sim.stop()


def timeless(answers: list) -> list:
    """The answers without the session's name: it holds the start time, a second apart
    between two runs now and then."""
    return [replace(a, session="") if isinstance(a, Status) else a for a in answers]


def test_get_and_post_get_the_same_answers_from_the_simulator():
    answers = timeless(simulator_answers("GET"))
    assert timeless(simulator_answers("POST")) == answers
    service, waiting, running, report, offline, ended, faulty = answers
    assert service == ServiceNumber("13738196887") and waiting == Status(1)
    assert running.online_status == 2 and report == Report(1) and offline == Offline(True)
    assert ended.online_status == 3  # the simulator read clientId from the body too
    assert faulty == NetworkFault("http", "HTTP 503")  # its faults play on POST as well


def test_report_sends_the_configured_client_status(backend):
    backend.get(BASE + "/rest/clientStatus", body='{"data":1}',
                match=[matchers.query_param_matcher({"clientId": "7", "clientStatus": "3"})])
    assert api.Api(BASE, "7", timeout_s=4, status_value=3).report() == Report(1)


def test_base_url_with_trailing_slash_gives_clean_paths(backend):
    backend.get(BASE + "/rest/status_client", body='{"data":0}')
    assert api.Api(BASE + "/", CLIENT, timeout_s=4).status() == NotFound()
    assert backend.calls[0].request.url == f"{BASE}/rest/status_client?clientId={CLIENT}"


def test_client_id_is_sent_url_encoded(backend):
    backend.get(BASE + "/rest/status_client", body='{"data":0}',
                match=[matchers.query_param_matcher({"clientId": "A 1&b"})])
    assert api.Api(BASE, "A 1&b", timeout_s=4).status() == NotFound()


@pytest.mark.parametrize("name", list(CALLS))
def test_every_call_waits_no_longer_than_the_configured_timeout(backend, client, name):
    path, body, _ = CALLS[name]
    backend.get(BASE + path, body=body)
    call(client, name)
    connect, read = backend.calls[0].request.req_kwargs["timeout"]
    assert 0 < connect <= 4 and 0 < read <= 4


def test_short_configured_timeout_also_bounds_connecting(backend):
    backend.get(BASE + "/rest/offline", body='{"data":1}')
    api.Api(BASE, CLIENT, timeout_s=0.5).offline()
    assert backend.calls[0].request.req_kwargs["timeout"] == (0.5, 0.5)


def test_calls_ask_for_json(backend, client):
    backend.get(BASE + "/rest/serviceNum", body='{"data":0}')
    client.service_number()
    assert backend.calls[0].request.headers["Accept"] == "application/json"


# --- answer shapes -----------------------------------------------------------------


@pytest.mark.parametrize(("name", "body", "expected"), [
    pytest.param("status", SPEC_RUNNING, Status(2, 2457, 3243.24, 1.32, 147465, SPEC_SESSION),
                 id="running"),
    pytest.param("status", SPEC_ENDED, Status(3, 30, 39.6, 1.32, 172, SPEC_SESSION),
                 id="ended-curly"),
    pytest.param("status", '{"data":1,"onlineStatus":1,"clientId":"370011","startTime":""}',
                 Status(1), id="waiting"),
    pytest.param("status", "{“data”:0}", NotFound(), id="not-found-curly"),
    pytest.param("status", '{"data":2}', Status(2), id="data-as-status"),
    pytest.param("status", '{"onlineStatus":2,"clientId":"1"}', ForeignAnswer("1"),
                 id="foreign"),
    pytest.param("report", '{"data":1}', Report(1), id="report-ok"),
    pytest.param("report", "{“data”:0}", Report(0), id="report-ended-paid"),
    pytest.param("report", "{“data”:2}", Report(2), id="report-ended-unpaid"),
    pytest.param("offline", '{"data":1}', Offline(True), id="offline-done"),
    pytest.param("offline", '{"data":0}', Offline(False), id="offline-failed"),
    pytest.param("service_number", '{"data":1,"serviceNum":"13738196887"}',
                 ServiceNumber("13738196887"), id="service-number"),
    pytest.param("service_number", "{“data”:0}", ServiceNumber(None), id="no-service-number"),
])
def test_every_answer_shape_comes_back_typed(backend, client, name, body, expected):
    backend.get(BASE + CALLS[name][0], body=body.encode("utf-8"),
                content_type="text/html;charset=UTF-8")
    assert call(client, name) == expected


def test_answer_in_chinese_charset_header_is_still_read_as_bytes(backend, client):
    backend.get(BASE + "/rest/status_client", body=SPEC_RUNNING.encode(),
                content_type="application/json;charset=GBK")
    assert isinstance(client.status(), Status)


# --- faults --------------------------------------------------------------------------


FAULTS = [
    pytest.param({"status": 500, "body": '{"data":0}'}, "http", id="http-500"),
    pytest.param({"status": 404, "body": "<html>Not Found</html>"}, "http", id="http-404"),
    pytest.param({"status": 503, "body": ""}, "http", id="http-503-empty"),
    pytest.param({"status": 204, "body": ""}, "http", id="http-204"),
    pytest.param({"body": "<!DOCTYPE html><html><body>路由器登录</body></html>"}, "malformed",
                 id="html-page-200"),
    pytest.param({"body": ""}, "malformed", id="empty-body"),
    pytest.param({"body": b'{"data":\xff}'}, "malformed", id="invalid-utf8"),
    pytest.param({"body": '{"data":'}, "malformed", id="broken-json"),
    pytest.param({"body": requests.exceptions.ConnectTimeout("connect timed out")}, "timeout",
                 id="connect-timeout"),
    pytest.param({"body": requests.exceptions.ReadTimeout("read timed out")}, "timeout",
                 id="read-timeout"),
    pytest.param({"body": requests.exceptions.ConnectionError("refused")}, "connection",
                 id="connection-refused"),
    pytest.param({"body": requests.exceptions.SSLError("bad certificate")}, "tls",
                 id="tls-error"),
    pytest.param({"body": requests.exceptions.ChunkedEncodingError("broken")}, "request",
                 id="broken-chunks"),
    pytest.param({"body": requests.exceptions.TooManyRedirects("loop")}, "request",
                 id="redirect-loop"),
    pytest.param({"body": OSError("network is unreachable")}, "request", id="os-error"),
]


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize(("answer", "kind"), FAULTS)
def test_every_failure_becomes_a_fault_never_an_exception(backend, client, name, answer, kind):
    backend.get(BASE + CALLS[name][0], **answer)
    result = call(client, name)
    assert isinstance(result, NetworkFault)
    assert result.kind == kind


def test_http_error_fault_names_the_status(backend, client):
    backend.get(BASE + "/rest/status_client", status=500, body="oops")
    assert client.status() == NetworkFault("http", "HTTP 500")


def test_answer_over_64_kib_is_a_fault(backend, client):
    backend.get(BASE + "/rest/status_client",
                body=b'{"data":0,"pad":"' + b"x" * api.MAX_ANSWER_BYTES + b'"}')
    assert client.status().kind == "too_large"


def test_answer_of_exactly_64_kib_is_read(backend, client):
    body = b'{"data":0}'
    backend.get(BASE + "/rest/status_client", body=body + b" " * (api.MAX_ANSWER_BYTES - 10))
    assert client.status() == NotFound()


def test_huge_html_page_is_a_fault(backend, client):
    backend.get(BASE + "/rest/offline", body="<html>" + "广告" * 100_000 + "</html>")
    assert client.offline().kind == "too_large"


# --- fault logging ------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "kiosk.api" and r.levelno == logging.WARNING]


def test_same_fault_twice_in_a_row_is_logged_once(backend, client, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.api")
    backend.get(BASE + "/rest/status_client", body=requests.exceptions.ConnectTimeout())
    client.status()
    client.status()
    assert len(warnings(caplog)) == 1
    assert "status_client" in warnings(caplog)[0] and "timeout" in warnings(caplog)[0]


def test_fault_of_another_kind_is_logged_at_once(backend, client, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.api")
    backend.get(BASE + "/rest/status_client", body=requests.exceptions.ConnectTimeout())
    client.status()
    backend.replace(responses.GET, BASE + "/rest/status_client", status=500)
    client.status()
    client.status()
    assert len(warnings(caplog)) == 2
    assert "http" in warnings(caplog)[1]


def test_each_endpoint_logs_its_own_faults(backend, client, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.api")
    for name in CALLS:
        backend.get(BASE + CALLS[name][0], body=requests.exceptions.ConnectionError())
    for _ in range(3):
        for name in CALLS:
            call(client, name)
    assert len(warnings(caplog)) == 4


def test_recovery_is_logged_and_a_fault_soon_after_is_counted_into_the_next_line(
        backend, client, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.api")
    clock = FakeClock()
    client.faults = api.FaultLog(clock=clock.monotonic)
    backend.get(BASE + "/rest/clientStatus", body=requests.exceptions.ReadTimeout())
    client.report()
    backend.replace(responses.GET, BASE + "/rest/clientStatus", body='{"data":1}')
    client.report()
    client.report()
    backend.replace(responses.GET, BASE + "/rest/clientStatus",
                    body=requests.exceptions.ReadTimeout())
    client.report()
    messages = [r.getMessage() for r in caplog.records if r.name == "kiosk.api"]
    assert len(warnings(caplog)) == 1
    assert sum("answering again" in m for m in messages) == 1
    clock.now += 60
    client.report()
    assert len(warnings(caplog)) == 2 and "and 1 more since the last line" in warnings(caplog)[1]


def test_a_flapping_server_writes_a_line_a_minute_per_fault_kind(backend, client, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.api")
    clock = FakeClock()
    client.faults = api.FaultLog(clock=clock.monotonic)
    answers = [requests.exceptions.ReadTimeout(), '{"data":1}',
               requests.exceptions.ConnectionError()]
    backend.get(BASE + "/rest/clientStatus", body='{"data":1}')
    for second in range(120):  # two minutes of timeout, answer, refused, timeout, ...
        backend.replace(responses.GET, BASE + "/rest/clientStatus", body=answers[second % 3])
        client.report()
        clock.now += 1
    messages = [r.getMessage() for r in caplog.records if r.name == "kiosk.api"]
    assert len(messages) == 6  # timeout, answering again, connection: once in each minute


def test_lasting_fault_is_logged_again_once_a_minute(backend, client, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.api")
    clock = FakeClock()
    client.faults = api.FaultLog(clock=clock.monotonic)
    backend.get(BASE + "/rest/status_client", body=requests.exceptions.ConnectTimeout())
    for _ in range(60):  # a poll a second for a minute
        client.status()
        clock.now += 1
    assert len(warnings(caplog)) == 1
    client.status()
    assert len(warnings(caplog)) == 2 and "and 59 more" in warnings(caplog)[1]


def test_answers_for_another_client_are_logged_once_a_minute(backend, client, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.api")
    backend.get(BASE + "/rest/status_client", body='{"onlineStatus":2,"clientId":"370099"}')
    for _ in range(10):
        assert client.status() == ForeignAnswer("370099")
    assert sum("370099" in r.getMessage() for r in caplog.records) == 1


def test_answer_for_another_client_is_logged(backend, client, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.api")
    backend.get(BASE + "/rest/status_client", body='{"onlineStatus":2,"clientId":"370099"}')
    assert client.status() == ForeignAnswer("370099")
    assert any("370099" in r.getMessage() for r in caplog.records)


# --- a real socket ------------------------------------------------------------------


class StallingHandler(BaseHTTPRequestHandler):
    """Answers only when the test lets it go (or after 10 s): ``mode`` says where it stalls."""

    body = b'{"data":1,"onlineStatus":2,"clientId":"370011"}'

    def do_GET(self) -> None:
        server = self.server
        server.paths.append(self.path)  # type: ignore[attr-defined]
        if server.mode == "before_headers":  # type: ignore[attr-defined]
            server.release.wait(10)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        if server.mode == "mid_body":  # type: ignore[attr-defined]
            self.wfile.write(self.body[:10])
            self.wfile.flush()
            server.release.wait(10)  # type: ignore[attr-defined]
        elif server.mode == "trickle":  # 30 bytes, one every 0.1 s, then the rest
            for i in range(30):
                self.wfile.write(self.body[i:i + 1])
                self.wfile.flush()
                if server.release.wait(0.1):  # type: ignore[attr-defined]
                    return
            self.wfile.write(self.body[30:])
            return
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # the client hung up on a stalled answer: expected here


@pytest.fixture
def slow_server():
    server = QuietServer(("127.0.0.1", 0), StallingHandler)
    server.mode = "before_headers"
    server.release = threading.Event()
    server.paths = []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def timed_status(server, timeout_s: float) -> tuple[object, float]:
    kiosk_api = api.Api(f"http://127.0.0.1:{server.server_address[1]}", CLIENT,
                        timeout_s=timeout_s)
    started = time.monotonic()
    try:
        return kiosk_api.status(), time.monotonic() - started
    finally:
        kiosk_api.close()


def test_real_server_answering_normally(slow_server):
    slow_server.mode = "normal"
    answer, _ = timed_status(slow_server, 2)
    assert answer == Status(2)
    assert slow_server.paths == [f"/rest/status_client?clientId={CLIENT}"]


def test_stalled_server_gives_a_timeout_fault_within_the_timeout(slow_server):
    timeout_s = 0.4
    answer, took = timed_status(slow_server, timeout_s)
    assert isinstance(answer, NetworkFault) and answer.kind == "timeout"
    assert took < 5 * timeout_s


def test_server_stalling_mid_answer_gives_a_fault_within_the_timeout(slow_server):
    slow_server.mode = "mid_body"
    timeout_s = 0.4
    answer, took = timed_status(slow_server, timeout_s)
    # requests reports a read timeout inside the body as a ConnectionError
    assert isinstance(answer, NetworkFault) and answer.kind in ("timeout", "connection")
    assert took < 5 * timeout_s


def test_server_trickling_its_answer_gives_a_timeout_fault_within_the_deadline(slow_server):
    slow_server.mode = "trickle"  # each byte within the read timeout, 3 s in all
    timeout_s = 0.2
    answer, took = timed_status(slow_server, timeout_s)
    assert took < 2.0  # given up at its deadline, long before the whole answer
    assert isinstance(answer, NetworkFault) and answer.kind == "timeout"


def test_refused_connection_on_a_real_socket_is_a_connection_fault():
    with socket.socket() as probe:  # a port that was free a moment ago: nobody listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kiosk_api = api.Api(f"http://127.0.0.1:{port}", CLIENT, timeout_s=1)
    started = time.monotonic()
    answer = kiosk_api.status()
    assert isinstance(answer, NetworkFault) and answer.kind == "connection"
    assert time.monotonic() - started < 5


# --- the environment: proxies read once -------------------------------------------


@pytest.fixture
def proxy():
    """A plain HTTP proxy that answers every request itself and keeps the request lines."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            seen.append(self.requestline)
            body = SPEC_RUNNING.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_a_proxy_from_the_environment_is_used_and_read_only_once(proxy, monkeypatch):
    url, seen = proxy
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", url)
    # The name does not resolve here: through a proxy, the proxy looks it up, not the PC.
    kiosk_api = api.Api("http://venue-backend.invalid:8080", CLIENT, timeout_s=4)
    assert kiosk_api.status() == CALLS["status"][2]
    monkeypatch.delenv("http_proxy")  # the environment is not read again on a call
    assert kiosk_api.status() == CALLS["status"][2]
    assert seen == ["GET http://venue-backend.invalid:8080/rest/status_client?clientId=370011 "
                    "HTTP/1.1"] * 2
    kiosk_api.close()


def test_a_host_in_no_proxy_is_asked_directly(proxy, monkeypatch):
    url, seen = proxy
    monkeypatch.setenv("http_proxy", url)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    kiosk_api = api.Api(url, CLIENT, timeout_s=4)  # the same little server, as the backend
    assert kiosk_api.session.proxies == {} and not kiosk_api.session.trust_env
    assert kiosk_api.status() == CALLS["status"][2]
    assert seen == ["GET /rest/status_client?clientId=370011 HTTP/1.1"]
    kiosk_api.close()
