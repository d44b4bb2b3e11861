"""A venue backend with its own certificate: a real TLS server on loopback (the simulator
over Python's ssl module, certificates made at test time), the kiosk's real API edge and
media cache, and the config line the log offers."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk import certificate, config
from kiosk.api import Api, FaultLog
from kiosk.certificate import parse_fingerprint, pretty_fingerprint
from kiosk.contract import NetworkFault, Status
from kiosk.flow import Page
from kiosk.media import BACKGROUND, BUNDLED_BACKGROUND, VIDEO, MediaCache
from kiosk.simulator import Simulator
from kiosk.tls import Tls, Trust, describe, explain
from tests.certs import DAY, NOW, Made, NameOID, https_simulator, make  # skips under Wine
from tests.test_faults import FAULT_WINDOW_S, kiosk_on

CLIENT = "370011"
LINE = re.compile(r'cert_sha256: "([0-9A-F:]{95})"')


@pytest.fixture
def made(tmp_path: Path):
    """Make certificates in the test's folder: ``made("name", **options)``."""
    return lambda name, **options: make(tmp_path / "certs", name, **options)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    """Serve REST and files over HTTPS with a certificate: ``serve(made) -> base URL``."""
    started: list[Simulator] = []
    files = tmp_path / "served"
    files.mkdir()
    shutil.copy(BUNDLED_BACKGROUND, files / "background.png")

    def start(cert: Made) -> str:
        sim = https_simulator(cert, files)
        started.append(sim)
        return sim.base_url

    yield start
    for sim in started:
        sim.stop()


def api_for(url: str, trust: Trust | None = None) -> Api:
    return Api(url, CLIENT, timeout_s=2, tls=Tls(trust, 2))


def media_for(url: str, tmp_path: Path, trust: Trust | None = None) -> MediaCache:
    return MediaCache(tmp_path / "cache", url, 2, tls=Tls(trust, 2))


def tls_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "kiosk.api" and "network fault tls" in r.getMessage()]


def offered_line(text: str) -> str:
    """The fingerprint of the config line a log line offers, as lowercase hex."""
    found = LINE.search(text)
    assert found, f"no config line in: {text}"
    return parse_fingerprint(found.group(1))


# --- the certificate as the operator is shown it -------------------------------------


@pytest.mark.parametrize("options", [
    pytest.param({}, id="self-signed-ip"),
    pytest.param({"names": ["backend.lan", "10.0.0.5", "::1"]}, id="dns-ipv4-ipv6"),
    pytest.param({"names": [], "subject": {NameOID.COUNTRY_NAME: "CN",
                                           NameOID.ORGANIZATION_NAME: "星光网咖",
                                           NameOID.COMMON_NAME: "后台"}}, id="chinese-no-san"),
    pytest.param({"not_before": dt.datetime(2049, 6, 1, tzinfo=dt.UTC),
                  "not_after": dt.datetime(2051, 1, 2, 3, 4, 5, tzinfo=dt.UTC)},
                 id="generalized-time-after-2050"),
])
def test_certificate_fields_are_read_as_cryptography_reads_them(made, options):
    cert = made("c", **options)
    read = certificate.read(cert.der)
    oracle = cert.cert
    assert read.sha256 == cert.sha256
    assert read.not_before == oracle.not_valid_before_utc
    assert read.not_after == oracle.not_valid_after_utc
    expected_subject = ", ".join(f"{a.rfc4514_attribute_name}={a.value}"
                                 for a in oracle.subject)
    assert read.subject == expected_subject and read.self_signed
    assert read.names == tuple(
        f"IP:{n}" if ":" in n or n[0].isdigit() else f"DNS:{n}"
        for n in options.get("names", ["127.0.0.1"]))


def test_a_certificate_signed_by_a_ca_names_its_issuer(made):
    ca = made("ca", names=[], subject={NameOID.COMMON_NAME: "Venue CA"}, ca=True)
    leaf = certificate.read(made("leaf", issuer=ca).der)
    assert leaf.issuer == "CN=Venue CA" and not leaf.self_signed


@pytest.fixture(scope="module")
def sample_der(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make(tmp_path_factory.mktemp("sample"), "sample",
                names=["backend.lan", "10.0.0.5"]).der


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.tuples(st.integers(0, 2000), st.integers(0, 255)))
def test_anything_that_is_not_a_certificate_is_a_value_error_never_a_crash(sample_der, blob):
    if isinstance(blob, tuple):  # a real certificate, truncated or with one byte changed
        der = bytearray(sample_der)
        where, value = blob
        if where >= len(der):
            der = der[:where % len(der)]
        else:
            der[where] = value
        blob = bytes(der)
    try:
        read = certificate.read(blob)
    except ValueError:
        return
    assert read.sha256 == hashlib.sha256(blob).hexdigest()  # read whole, or refused




@pytest.mark.parametrize("text", [
    "3c962c2ea4f3bf3ef7a9dc46ea3f12494247160ecc0a61fec4ab736fd37cc0f4",
    "3C:96:2C:2E:A4:F3:BF:3E:F7:A9:DC:46:EA:3F:12:49:42:47:16:0E:CC:0A:61:FE:C4:AB:73:6F:D3:7C:C0:F4",
    "  3C962C2EA4F3BF3EF7A9DC46EA3F12494247160ECC0A61FEC4AB736FD37CC0F4 ",
])
def test_a_fingerprint_is_accepted_plain_or_in_colon_pairs(text):
    assert parse_fingerprint(text) == \
        "3c962c2ea4f3bf3ef7a9dc46ea3f12494247160ecc0a61fec4ab736fd37cc0f4"
    assert parse_fingerprint(pretty_fingerprint(parse_fingerprint(text))) == parse_fingerprint(text)


@pytest.mark.parametrize("text", [
    "3c962c2ea4f3bf3ef7a9dc46ea3f12494247160ecc0a61fec4ab736fd37cc0f",  # 63
    "3c962c2ea4f3bf3ef7a9dc46ea3f12494247160ecc0a61fec4ab736fd37cc0f40",  # 65
    "zz962c2ea4f3bf3ef7a9dc46ea3f12494247160ecc0a61fec4ab736fd37cc0f4",
    "3C:962C:2E:A4:F3:BF:3E:F7:A9:DC:46:EA:3F:12:49:42:47:16:0E:CC:0A:61:FE:C4:AB:73:6F:D3:7C:C0F4",
    " ".join(re.findall("..", "3c962c2ea4f3bf3ef7a9dc46ea3f12494247160ecc0a61fec4ab736fd37cc0f4")),
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",  # SHA-1
    "",
])
def test_anything_else_is_not_a_fingerprint(text):
    with pytest.raises(ValueError):
        parse_fingerprint(text)


# --- a real TLS server: refused, then trusted -----------------------------------------


def test_a_self_signed_backend_is_refused_with_its_fingerprint_and_the_line_that_trusts_it(
        made, serve, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.api")
    cert = made("backend")
    url = serve(cert)
    answer = api_for(url).status()
    media = media_for(url, tmp_path)
    assert media.refresh(BACKGROUND) is False
    assert media.current(BACKGROUND) == BUNDLED_BACKGROUND  # the bundled one stays
    assert isinstance(answer, NetworkFault) and answer.kind == "tls"
    assert answer.cause == "untrusted"
    lines = tls_lines(caplog)
    assert [line.split(":")[0] for line in lines] == ["status_client", "/files/background.png"]
    for line in lines:
        assert "not signed by a CA this kiosk trusts" in line
        assert pretty_fingerprint(cert.sha256) in line
        assert "CN=127.0.0.1 (self-signed, names IP:127.0.0.1)" in line
        assert f"{cert.cert.not_valid_after_utc:%Y-%m-%d}" in line
        assert offered_line(line) == cert.sha256


def test_the_line_copied_from_the_log_into_config_yaml_makes_the_downloads_work(
        made, serve, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.api")
    url = serve(made("backend"))
    media_for(url, tmp_path).refresh(BACKGROUND)
    line = LINE.search(tls_lines(caplog)[0]).group(0)
    path = tmp_path / "config.yaml"
    path.write_text(f'server:\n  base_url: {url}\n  {line}\nclient:\n  id: "{CLIENT}"\n',
                    encoding="utf-8")
    cfg = config.load(path)
    trust = Trust(cfg.ca_file, cfg.cert_sha256)
    media = media_for(url, tmp_path, trust)
    assert media.refresh(BACKGROUND) is True
    assert media.current(BACKGROUND) == tmp_path / "cache" / "background.png"
    assert isinstance(api_for(url, trust).status(), Status)


@pytest.mark.parametrize("how", ["ca-file-of-the-venue-ca", "ca-file-of-the-server-itself",
                                 "pin", "pin-through-config"])
def test_a_trusted_backend_answers_and_its_files_download(made, serve, tmp_path, how):
    ca = made("ca", names=[], subject={NameOID.COMMON_NAME: "Venue CA"}, ca=True)
    server = made("server", issuer=ca) if how == "ca-file-of-the-venue-ca" else made("server")
    url = serve(server)
    trust = {
        "ca-file-of-the-venue-ca": Trust(ca_file=ca.pem_file),
        "ca-file-of-the-server-itself": Trust(ca_file=server.pem_file),
        "pin": Trust(cert_sha256=server.sha256),
        "pin-through-config": Trust(cert_sha256=config.load(
            tmp_path / "c.yaml", {"client": {"id": CLIENT}, "server": {
                "cert_sha256": pretty_fingerprint(server.sha256)}}).cert_sha256),
    }[how]
    assert isinstance(api_for(url, trust).status(), Status)
    media = media_for(url, tmp_path, trust)
    assert media.refresh(BACKGROUND) is True
    assert media.refresh(VIDEO) is False  # not on the server: the bundled one, no TLS fault


def refused(url: str, trust: Trust, caplog) -> tuple[NetworkFault, str]:
    caplog.set_level(logging.INFO, logger="kiosk.api")
    answer = api_for(url, trust).status()
    assert isinstance(answer, NetworkFault) and answer.kind == "tls", answer
    lines = tls_lines(caplog)
    assert len(lines) == 1
    return answer, lines[0]


def test_a_wrong_pin_is_refused_and_said_plainly(made, serve, caplog):
    server, other = made("server"), made("other")
    answer, line = refused(serve(server), Trust(cert_sha256=other.sha256), caplog)
    assert answer.cause == "pin"
    assert (f"it is not the certificate server.cert_sha256 names "
            f"({pretty_fingerprint(other.sha256)})") in line
    assert "it may not be your backend" in line and offered_line(line) == server.sha256


@pytest.mark.parametrize("trusted_by", ["ca-file", "pin"])
def test_an_expired_certificate_is_refused_however_it_is_trusted(made, serve, caplog,
                                                                trusted_by):
    old = made("old", not_before=NOW - 400 * DAY, not_after=NOW - 2 * DAY)
    trust = Trust(ca_file=old.pem_file) if trusted_by == "ca-file" else Trust(
        cert_sha256=old.sha256)
    answer, line = refused(serve(old), trust, caplog)
    assert answer.cause == "expired"
    assert f"it expired on {old.cert.not_valid_after_utc:%Y-%m-%d}" in line
    assert "renew the backend's certificate" in line and not LINE.search(line)


def test_a_certificate_not_valid_yet_points_at_this_pcs_clock(made, serve, caplog):
    future = made("future", not_before=NOW + 30 * DAY, not_after=NOW + 400 * DAY)
    answer, line = refused(serve(future), Trust(cert_sha256=future.sha256), caplog)
    assert answer.cause == "not_yet_valid"
    assert "this PC's clock says" in line and "set this PC's date and time" in line


def test_a_certificate_for_another_host_is_refused_unless_pinned(made, serve, tmp_path, caplog):
    ca = made("ca", names=[], subject={NameOID.COMMON_NAME: "Venue CA"}, ca=True)
    elsewhere = made("elsewhere", names=["backend.example"], issuer=ca)
    url = serve(elsewhere)
    answer, line = refused(url, Trust(ca_file=ca.pem_file), caplog)
    assert answer.cause == "hostname"
    assert "it is made out for other names than 127.0.0.1" in line
    assert "names DNS:backend.example" in line
    assert "in place of ca_file" in line and offered_line(line) == elsewhere.sha256
    # A pin names the certificate itself, so the host name it was made out for is moot.
    assert isinstance(api_for(url, Trust(cert_sha256=elsewhere.sha256)).status(), Status)


def test_https_to_a_plain_http_port_says_it_is_not_an_https_port(caplog):
    sim = Simulator()
    url = sim.start().replace("http://", "https://")
    try:
        answer, line = refused(url, Trust(), caplog)
    finally:
        sim.stop()
    assert answer.cause == "tls" and "is it an HTTPS port?" in line


def test_another_verification_error_is_shown_in_openssls_own_words(made):
    cert = made("server")
    text = explain("https://10.0.0.5:8443", Trust(), "verify", "unsuitable {purpose}",
                   certificate.read(cert.der), None).text
    assert text.startswith("https://10.0.0.5:8443: certificate refused: unsuitable {purpose} (")
    assert offered_line(text) == cert.sha256


# --- once per endpoint and cause ----------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_certificate_is_read_once_per_cause_and_each_cause_logged_once_a_minute(
        made, serve, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="kiosk.api")
    server = made("server")
    url = serve(server)
    tls = Tls(Trust(), 2)
    peeks = []
    real_peek = tls.peek
    monkeypatch.setattr(tls, "peek", lambda u: peeks.append(u) or real_peek(u))
    api = Api(url, CLIENT, timeout_s=2, tls=tls)
    clock = FakeClock()
    api.faults = FaultLog(clock=clock)
    for _ in range(5):  # five polls in the same second
        api.status()
        api.report()
    assert len(peeks) == 1  # one unverified read of the certificate for both endpoints
    assert [line.split(":")[0] for line in tls_lines(caplog)] == ["status_client",
                                                                   "clientStatus"]
    tls.trust = Trust(cert_sha256="00" * 32)  # another cause, through a new adapter
    api.session = tls.session(url)
    api.status()
    assert len(peeks) == 2 and "not the certificate server.cert_sha256 names" in \
        tls_lines(caplog)[-1]
    logged = len(tls_lines(caplog))
    api.status()
    assert len(tls_lines(caplog)) == logged  # the same cause within the minute: held back
    clock.now += 60
    api.status()
    assert len(tls_lines(caplog)) == logged + 1 and "and 1 more" in tls_lines(caplog)[-1]
    assert len(peeks) == 2  # logged again, the certificate not read again


# --- in a session: a refused certificate is a network fault like any other --------------


def test_a_certificate_refused_in_a_session_reboots_nothing_and_the_logged_line_fixes_it(
        made, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.api")
    first, renewed = made("first"), made("renewed")
    sim = https_simulator(first)
    try:
        kiosk = kiosk_on(sim, Page.SESSION, tls=Tls(Trust(cert_sha256=first.sha256), 0.5))
        pages = list(kiosk.pages)
        sim.tls.load_cert_chain(renewed.pem_file, renewed.key_file)  # the backend's new one
        started = kiosk.clock()
        kiosk.run(FAULT_WINDOW_S)
        assert kiosk.reboots == [] and kiosk.pages == pages and kiosk.page is Page.SESSION
        polls = kiosk.since(started, "status")
        assert len(polls) >= 3 and all(getattr(p, "cause", "") == "pin" for p in polls)
        lines = tls_lines(caplog)
        assert {line.split(":")[0] for line in lines} == {"status_client", "clientStatus"}
        kiosk.api = Api(sim.base_url, CLIENT, timeout_s=0.5,
                        tls=Tls(Trust(cert_sha256=offered_line(lines[0])), 0.5))
        answered = kiosk.clock()
        kiosk.run_until(lambda: any(isinstance(a, Status) for a in kiosk.since(answered,
                                                                                "status")), 2)
        assert kiosk.reboots == [] and kiosk.page is Page.SESSION
    finally:
        sim.stop()


def test_without_ca_file_or_pin_downloads_fail_with_the_fingerprint_and_the_session_goes_on(
        made, serve, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.api")
    files_server = made("files")
    files_url = serve(files_server)
    rest = Simulator(report_timeout_s=10_000)
    rest.start()
    try:
        kiosk = kiosk_on(rest, Page.SESSION)
        media = media_for(files_url, tmp_path)
        for item in (BACKGROUND, VIDEO):
            assert media.refresh(item) is False
        kiosk.run(FAULT_WINDOW_S)
        assert kiosk.reboots == [] and kiosk.page is Page.SESSION
    finally:
        rest.stop()
    lines = tls_lines(caplog)
    assert len(lines) == 2 and all(offered_line(line) == files_server.sha256 for line in lines)


# --- the TLS state of a base URL, for `main.py check` --------------------------------


def test_describe_a_plain_http_url():
    state = describe("http://10.0.0.5:8080", Trust(cert_sha256="ab" * 32))
    assert state.ok is None and state.lines() == ["http://10.0.0.5:8080: plain http, no TLS"]


def test_describe_a_pinned_backend_shows_how_it_is_trusted_and_its_certificate(made, serve):
    server = made("server")
    url = serve(server)
    state = describe(url, Trust(cert_sha256=server.sha256), 2)
    assert state.ok is True and state.certificate.sha256 == server.sha256
    head, cert_line = state.lines()
    assert head == (f"{url}: TLS trusted, certificates pinned by server.cert_sha256 "
                    f"({pretty_fingerprint(server.sha256)})")
    assert cert_line.startswith("  certificate CN=127.0.0.1 (valid ")


def test_describe_a_backend_trusted_by_a_ca_file(made, serve):
    ca = made("ca", names=[], subject={NameOID.COMMON_NAME: "Venue CA"}, ca=True)
    url = serve(made("server", issuer=ca))
    state = describe(url, Trust(ca_file=ca.pem_file), 2)
    assert state.ok is True and f"server.ca_file ({ca.pem_file})" in state.lines()[0]


def test_describe_a_refused_backend_gives_the_line_to_add(made, serve):
    server = made("server")
    state = describe(serve(server), Trust(), 2)
    assert state.ok is False and "TLS REFUSED" in state.lines()[0]
    assert offered_line(state.lines()[1]) == server.sha256
    assert state.certificate.sha256 == server.sha256


def test_describe_an_unreachable_backend(tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = describe(f"https://127.0.0.1:{port}", Trust(), 1)
    assert state.ok is False and state.certificate is None
    assert state.lines()[1] == "  not reachable (ConnectionError)"
