"""Reading the backend's answers (DESIGN.md §3): every shape of the specification, and garbage."""

from __future__ import annotations

import math

import pytest

from kiosk import contract
from kiosk.contract import (
    ForeignAnswer,
    NetworkFault,
    NotFound,
    Offline,
    Report,
    ServiceNumber,
    Status,
    parse_offline,
    parse_report,
    parse_service_number,
    parse_status,
)

SPEC_SESSION = "775233 2017-08-07 16:32:20"  # unionId and startTime of the examples

CLIENT = "370011"

# The specification's own examples, byte for byte (curly quotes included).
SPEC_WAITING = ('{"data":1,"duration":0,"unionId":"775233","clientId":"370011","cost":0,'
                '"onlineStatus":1,"charging":0,"startTime":"","endTime":""}')
SPEC_RUNNING = ('{"data":1,"duration":2457,"unionId":"775233","clientId":"370011",'
                '"cost":3243.24,"onlineStatus":2,"charging":1.32,'
                '"startTime":"2017-08-07 16:32:20","endTime":"2017-08-09 09:30:05"}')
SPEC_ENDED = ('{"data":1,"duration":30,"unionId":"775233","clientId":"370011","cost":39.6,'
              '"onlineStatus":3,"charging":1.32,"startTime":"2017-08-07 16:32:20",'
              '"endTime":"2017-08-07 16:35:12“}')
SPEC_NOT_FOUND = "{“data”:0}"


def status(body: str | bytes) -> contract.StatusAnswer:
    return parse_status(body.encode() if isinstance(body, str) else body, CLIENT)


def is_fault(answer: object) -> bool:
    return isinstance(answer, NetworkFault) and answer.kind == "malformed"


# --- status_client ---------------------------------------------------------------


@pytest.mark.parametrize(("body", "expected"), [
    pytest.param(SPEC_WAITING, Status(1, 0, 0, 0, None, "775233"), id="spec-waiting"),
    pytest.param(SPEC_RUNNING, Status(2, 2457, 3243.24, 1.32, 147465, SPEC_SESSION),
                 id="spec-running"),
    pytest.param(SPEC_ENDED, Status(3, 30, 39.6, 1.32, 172, SPEC_SESSION),
                 id="spec-ended-curly-endtime"),
    pytest.param(SPEC_NOT_FOUND, NotFound(), id="spec-not-found-curly"),
    pytest.param('{"data":0}', NotFound(), id="not-found-straight"),
    pytest.param("{“data”:0}\r\n", NotFound(), id="not-found-with-newline"),
    pytest.param('{"data":2}', Status(2), id="data-is-status-2"),
    pytest.param('{"data":3,"clientId":"370011","cost":5}', Status(3, cost=5), id="data-is-3"),
    pytest.param('{"data":1}', Status(1), id="data-is-status-1"),
    pytest.param('{"data":"2"}', Status(2), id="data-numeric-string"),
    pytest.param('{"data":1,"onlineStatus":"2"}', Status(2), id="online-status-string"),
    pytest.param('{"data":1,"onlineStatus":" 3 "}', Status(3), id="online-status-padded"),
    pytest.param('{"data":1,"onlineStatus":2.0}', Status(2), id="online-status-whole-float"),
    pytest.param('{"data":0,"onlineStatus":2}', Status(2), id="online-status-wins-over-data"),
    pytest.param('{"onlineStatus":2,"clientId":370011}', Status(2), id="client-id-as-number"),
    pytest.param('{"onlineStatus":2,"clientId":" 370011 "}', Status(2), id="client-id-padded"),
    pytest.param('{"onlineStatus":2,"clientId":""}', Status(2), id="client-id-empty"),
    pytest.param('{"onlineStatus":2,"clientId":null}', Status(2), id="client-id-null"),
    pytest.param('{"data":0,"onlineStatus":null,"clientId":null}', NotFound(),
                 id="not-found-with-every-field-null"),
    pytest.param('{"onlineStatus":2,"duration":"30","cost":"39.6","charging":"1.32"}',
                 Status(2, 30, 39.6, 1.32), id="figures-as-strings"),
    pytest.param('{"onlineStatus":2,"msg":"上机中"}', Status(2), id="chinese-text"),
    pytest.param('{"data":1,"onlineStatus":2,"extra":{"nested":[1,2]}}', Status(2),
                 id="unknown-keys-ignored"),
])
def test_status_answers_the_specification_shows_are_understood(body, expected):
    assert status(body) == expected


@pytest.mark.parametrize("body", [
    pytest.param('{"data":1,"onlineStatus":2,"clientId":"370012"}', id="other-client"),
    pytest.param('{"data":2,"clientId":"1"}', id="other-client-no-online-status"),
    pytest.param('{"onlineStatus":1,"clientId":3700110}', id="other-numeric-client"),
    pytest.param(SPEC_RUNNING.replace("370011", "999"), id="spec-shape-other-client"),
])
def test_status_answer_for_another_client_is_foreign(body):
    answer = status(body)
    assert isinstance(answer, ForeignAnswer)
    assert answer.client_id != CLIENT


def test_foreign_answer_names_the_other_client():
    assert status('{"onlineStatus":2,"clientId":"370012"}') == ForeignAnswer("370012")


@pytest.mark.parametrize("body", [
    pytest.param('{"data":1,"onlineStatus":null}', id="null"),
    pytest.param('{"data":1,"onlineStatus":[2]}', id="array"),
    pytest.param('{"data":1,"onlineStatus":{"v":2}}', id="object"),
    pytest.param('{"data":1,"onlineStatus":true}', id="boolean"),
    pytest.param('{"data":true}', id="data-boolean"),
    pytest.param('{"data":false}', id="data-false"),
    pytest.param('{"data":1,"onlineStatus":2.5}', id="float"),
    pytest.param('{"data":1,"onlineStatus":"abc"}', id="abc"),
    pytest.param('{"data":1,"onlineStatus":""}', id="empty-string"),
    pytest.param('{"data":1,"onlineStatus":4}', id="unknown-status-4"),
    pytest.param('{"data":1,"onlineStatus":0}', id="status-0-with-data-1"),
    pytest.param('{"data":1,"onlineStatus":-2}', id="negative-status"),
    pytest.param('{"data":null}', id="data-null"),
    pytest.param('{"data":"abc"}', id="data-abc"),
    pytest.param('{"data":5}', id="data-5"),
    pytest.param("{}", id="empty-object"),
    pytest.param('{"serviceNum":"1"}', id="no-data"),
    pytest.param("[1,2]", id="array-body"),
    pytest.param("2", id="number-body"),
    pytest.param('"data"', id="string-body"),
    pytest.param("null", id="null-body"),
    pytest.param("", id="empty-body"),
    pytest.param("   \n", id="blank-body"),
    pytest.param("<html><body><h1>502 Bad Gateway</h1></body></html>", id="html"),
    pytest.param("<!DOCTYPE html><html><head><title>错误</title></head></html>", id="html-chinese"),
    pytest.param('{"data":1,"onlineStatus":2', id="truncated-json"),
    pytest.param("{data:1}", id="unquoted-keys"),
    pytest.param(b'{"data":1,"onlineStatus":2,"x":"\xff\xfe"}', id="invalid-utf8"),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00", id="binary"),
    pytest.param("{“data”:1,“onlineStatus”:“abc”}", id="curly-but-wrong-type"),
])
def test_unusable_status_answer_is_a_fault_not_a_page_change(body):
    assert is_fault(status(body))


def test_fault_says_what_was_wrong():
    answer = status("<html>Bad Gateway</html>")
    assert isinstance(answer, NetworkFault)
    assert "not JSON" in answer.detail
    assert "not an object" in status("[]").detail
    assert "UTF-8" in status(b"\xff").detail
    assert "onlineStatus" in status('{"onlineStatus":"abc"}').detail


@pytest.mark.parametrize(("field", "raw"), [
    ("cost", "-5"), ("cost", "NaN"), ("cost", "Infinity"), ("cost", "-Infinity"),
    ("cost", "null"), ("cost", '"abc"'), ("cost", "true"), ("cost", "[1]"), ("cost", "{}"),
    ("charging", "-1.32"), ("charging", "NaN"), ("duration", "-30"), ("duration", '"NaN"'),
    ("duration", '"inf"'), ("duration", '""'),
])
def test_unreadable_or_negative_figures_are_shown_as_zero(field, raw):
    answer = status(f'{{"onlineStatus":2,"clientId":"370011","{field}":{raw}}}')
    assert isinstance(answer, Status)
    value = {"cost": answer.cost, "charging": answer.charging,
             "duration": answer.duration_min}[field]
    assert value == 0 and math.isfinite(value)


@pytest.mark.parametrize(("start", "end", "elapsed"), [
    ("2017-08-07 16:32:20", "2017-08-07 16:35:12", 172),
    ("2017-08-07 16:32:20", "2017-08-09 09:30:05", 147465),
    ("2017-08-07 16:32:20", "2017-08-07 16:32:20", 0),
    ("2017-08-07T16:32:20", "2017-08-07T17:32:20", 3600),
    ("2017/08/07 16:32:20", "2017/08/07 16:33:20", 60),
    (" 2017-08-07 16:32:20 ", "2017-08-07 16:33:20", 60),
    ("2017-12-31 23:59:00", "2018-01-01 00:01:00", 120),
])
def test_elapsed_time_comes_from_the_servers_start_and_end(start, end, elapsed):
    answer = status(f'{{"onlineStatus":2,"startTime":"{start}","endTime":"{end}"}}')
    assert isinstance(answer, Status)
    assert answer.elapsed_s == elapsed


@pytest.mark.parametrize(("start", "end"), [
    ('""', '""'),
    ('"2017-08-07 16:32:20"', '""'),
    ('""', '"2017-08-07 16:32:20"'),
    ('"2017-08-07 16:35:12"', '"2017-08-07 16:32:20"'),  # end before start
    ('"yesterday"', '"today"'),
    ("null", "null"),
    ("1502094740", "1502094912"),
    ('"2017-08-07"', '"2017-08-08"'),
    ('"2017-02-30 10:00:00"', '"2017-03-01 10:00:00"'),
])
def test_elapsed_time_is_unknown_without_two_readable_times(start, end):
    answer = status(f'{{"onlineStatus":2,"duration":3,"startTime":{start},"endTime":{end}}}')
    assert isinstance(answer, Status)
    assert answer.elapsed_s is None
    assert answer.duration_min == 3


def test_not_found_is_recognised_before_the_client_check():
    assert status('{"data":0,"clientId":"370012"}') == NotFound()


# --- clientStatus (the report) ------------------------------------------------------


@pytest.mark.parametrize(("body", "code", "over"), [
    pytest.param('{"data":1}', 1, False, id="spec-ok"),
    pytest.param("{“data”:0}", 0, True, id="spec-ended-paid-curly"),
    pytest.param("{“data”:2}", 2, True, id="spec-ended-unpaid-curly"),
    pytest.param('{"data":0}', 0, True, id="ended-paid"),
    pytest.param('{"data":2}', 2, True, id="ended-unpaid"),
    pytest.param('{"data":"1"}', 1, False, id="numeric-string"),
    pytest.param('{"data":"0"}', 0, True, id="numeric-string-0"),
])
def test_report_answers_say_whether_the_session_is_over(body, code, over):
    answer = parse_report(body.encode())
    assert answer == Report(code)
    assert answer.session_over is over


@pytest.mark.parametrize("body", [
    "{}", '{"data":3}', '{"data":-1}', '{"data":null}', '{"data":true}', '{"data":false}',
    '{"data":1.5}', '{"data":"abc"}', '{"data":[1]}', "", "<html>500</html>", "[0]", "0",
])
def test_unusable_report_answer_is_a_fault_that_never_ends_the_session(body):
    assert is_fault(parse_report(body.encode()))


# --- offline -------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "done"), [
    pytest.param('{"data":1}', True, id="spec-done"),
    pytest.param('{"data":0}', False, id="spec-failed"),
    pytest.param("{“data”:1}", True, id="curly-done"),
    pytest.param("{“data”:0}", False, id="curly-failed"),
    pytest.param('{"data":"1"}', True, id="numeric-string"),
    pytest.param('{"data":2}', False, id="other-code-is-not-done"),
])
def test_offline_is_done_only_on_data_1(body, done):
    assert parse_offline(body.encode()) == Offline(done)


@pytest.mark.parametrize("body", ["", "{}", '{"data":true}', '{"data":null}', "<html/>",
                                  '{"data":"yes"}', "[1]"])
def test_unusable_offline_answer_is_a_fault(body):
    assert is_fault(parse_offline(body.encode()))


# --- serviceNum ---------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "number"), [
    pytest.param('{"data":1,"serviceNum":"13738196887"}', "13738196887", id="spec-found"),
    pytest.param("{“data”:0}", None, id="spec-none-curly"),
    pytest.param('{"data":0,"serviceNum":"13738196887"}', None, id="data-0-wins"),
    pytest.param('{"data":1,"serviceNum":13738196887}', "13738196887", id="number"),
    pytest.param('{"data":1,"serviceNum":" 400-800-1234 "}', "400-800-1234", id="padded"),
    pytest.param('{"data":1}', None, id="missing"),
    pytest.param('{"data":1,"serviceNum":""}', None, id="empty"),
    pytest.param('{"data":1,"serviceNum":null}', None, id="null"),
    pytest.param('{"data":1,"serviceNum":true}', None, id="boolean"),
    pytest.param('{"data":1,"serviceNum":["1"]}', None, id="array"),
    pytest.param('{"data":1,"serviceNum":"' + "9" * 100 + '"}', "9" * 32, id="too-long-cut"),
])
def test_service_number_answers(body, number):
    assert parse_service_number(body.encode()) == ServiceNumber(number)


@pytest.mark.parametrize("body", ["", "<html/>", "[]", '{"data":"x"}', '{"serviceNum":"1"}'])
def test_unusable_service_number_answer_is_a_fault(body):
    assert is_fault(parse_service_number(body.encode()))


# --- the table of shapes ------------------------------------------------------------------


def test_every_call_of_the_specification_has_its_answer_shapes_listed():
    assert set(contract.ANSWER_SHAPES) == {"serviceNum", "clientStatus", "status_client",
                                           "offline"}
    assert all(contract.ANSWER_SHAPES.values())


@pytest.mark.parametrize(("call", "parse"), [
    ("serviceNum", parse_service_number),
    ("clientStatus", parse_report),
    ("offline", parse_offline),
])
def test_every_complete_listed_shape_parses(call, parse):
    for shape in contract.ANSWER_SHAPES[call]:
        assert not isinstance(parse(shape.encode()), NetworkFault), shape
