"""HTTPS to the venue backend, trusted one of three ways and never not at all.

By default the certificate must be signed by a public CA (requests' certifi bundle, or
the ``REQUESTS_CA_BUNDLE`` file) and name the host; ``server.ca_file`` puts the venue's
own CA (or the server's own certificate) in their place; ``server.cert_sha256`` pins one
exact certificate by its fingerprint (urllib3's ``assert_fingerprint``): the way to trust
a self-signed certificate on a bare IP. An expired certificate is refused in every case.

A refused certificate is a network fault like any other for the rules. Its explanation
(the certificate's names, validity, fingerprint and the config line that trusts it, the
way ssh shows a new host key) needs the certificate the handshake refused: it is read by a
second, unverified connection that only reads it and sends nothing, once per origin and
cause, on the calling worker thread, within the configured timeout.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from kiosk import certificate
from kiosk.certificate import Certificate, pretty_fingerprint
from kiosk.contract import NetworkFault

log = logging.getLogger(__name__)

# OpenSSL's verification codes (X509_V_ERR_*), by what the operator has to do about them.
UNTRUSTED_CODES = frozenset({2, 18, 19, 20, 21})
HOSTNAME_CODES = frozenset({62, 64})
CODES = {9: "not_yet_valid", 10: "expired", **dict.fromkeys(UNTRUSTED_CODES, "untrusted"),
         **dict.fromkeys(HOSTNAME_CODES, "hostname")}
PIN_MISMATCH = "Fingerprints did not match"  # urllib3's assert_fingerprint


@dataclass(frozen=True)
class Trust:
    """How HTTPS certificates are trusted: ``ca_file``, ``cert_sha256`` (lowercase hex) or,
    with neither, public CAs. The config never sets both."""

    ca_file: Path | None = None
    cert_sha256: str | None = None

    def how(self) -> str:
        if self.cert_sha256:
            return f"pinned by server.cert_sha256 ({pretty_fingerprint(self.cert_sha256)})"
        if self.ca_file:
            return f"signed by a CA of server.ca_file ({self.ca_file})"
        return "signed by a public CA (no server.ca_file or server.cert_sha256)"


class DatesRefused(ssl.SSLError):
    """A pinned certificate outside its validity: OpenSSL checks dates only on a chain it
    verifies, and a pin verifies no chain."""

    def __init__(self, cause: str) -> None:
        self.cause = cause
        self.words = f"pinned certificate {cause.replace('_', ' ')}"
        super().__init__(self.words)


class _PinnedContext(ssl.SSLContext):
    """The TLS context of a pinned certificate: urllib3 checks its fingerprint after the
    handshake, this checks its dates."""

    def wrap_socket(self, *args, **kwargs):
        sock = super().wrap_socket(*args, **kwargs)
        try:
            problem = certificate.read(sock.getpeercert(binary_form=True)).problem_at(
                datetime.now(UTC))
        except ValueError:  # a certificate this reader cannot read: the pin still decides
            problem = None
        if problem is not None:
            sock.close()
            raise DatesRefused(problem)
        return sock


def _pinned_context() -> ssl.SSLContext:
    context = _PinnedContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # the fingerprint names the server, not its host name
    context.verify_mode = ssl.CERT_NONE  # no chain to verify: the pin replaces it
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # as urllib3's own contexts
    return context


class TrustAdapter(HTTPAdapter):
    """Applies one ``Trust`` to every HTTPS connection of a session, whatever a call says."""

    def __init__(self, trust: Trust, public: bool | str = True) -> None:
        """``public``: requests' verify for public CAs (True, or a CA bundle's path)."""
        self.trust = trust
        if trust.cert_sha256:
            self.verify: bool | str = False
            self.pinned = {"assert_fingerprint": trust.cert_sha256,
                           "ssl_context": _pinned_context()}
        else:
            self.verify = str(trust.ca_file) if trust.ca_file else public
            self.pinned = {}
        super().__init__()

    def send(self, request, **kwargs):
        kwargs["verify"] = self.verify
        return super().send(request, **kwargs)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host, pool = super().build_connection_pool_key_attributes(request, self.verify, cert)
        pool.update(self.pinned)
        return host, pool


def origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port or (443 if parts.scheme == "https"
                                                              else 80)


def config_line(sha256: str) -> str:
    """The line under ``server:`` in config.yaml that trusts exactly this certificate."""
    return f'cert_sha256: "{pretty_fingerprint(sha256)}"'


class Tls:
    """The trust for the kiosk's sessions, and the plain explanation of a refused
    certificate, worked out once per origin and cause."""

    def __init__(self, trust: Trust | None = None, timeout_s: float = 4.0) -> None:
        self.trust = trust or Trust()
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._explained: dict[tuple[tuple[str, str, int], str], Explanation] = {}

    def session(self, url: str) -> requests.Session:
        """A session for ``url`` with this trust on HTTPS, and the environment's proxies and
        CA bundle read once: requests would read them again on every call (on Windows the
        registry's proxy settings too), a quarter of a poll's CPU beside a game."""
        session = requests.Session()
        settings = session.merge_environment_settings(url, {}, None, None, None)
        session.proxies = settings["proxies"]
        session.trust_env = False
        session.mount("https://", TrustAdapter(self.trust, settings["verify"]))
        return session

    def fault(self, url: str, exc: BaseException) -> NetworkFault:
        """The fault for a TLS failure of ``url``, its detail the operator's explanation."""
        found = explanation_cause(exc)
        explained = self.explain(url, *found)
        return NetworkFault("tls", explained.text, cause=found[0])

    def explain(self, url: str, cause: str, words: str) -> Explanation:
        key = (origin(url), cause)
        with self._lock:  # another worker failing the same way waits for this one's answer
            if key not in self._explained:
                self._explained[key] = explain(url, self.trust, cause, words,
                                               *self.peek(url))
            return self._explained[key]

    def peek(self, url: str) -> tuple[Certificate | None, str | None]:
        """The server's certificate as it is sent, unverified and only to show it; or why
        it could not be read."""
        _, host, port = origin(url)
        try:
            pem = ssl.get_server_certificate((host, port), timeout=self.timeout_s)
            return certificate.read(ssl.PEM_cert_to_DER_cert(pem)), None
        except (OSError, ValueError) as exc:  # ssl.SSLError and socket.timeout are OSErrors
            return None, f"{type(exc).__name__}: {exc}"[:200]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions inside requests' and urllib3's wrappers, outermost first."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        one = todo.pop(0)
        if id(one) in seen:
            continue
        seen.add(id(one))
        yield one
        inner = [*one.args, getattr(one, "reason", None), one.__cause__, one.__context__]
        todo.extend(e for e in inner if isinstance(e, BaseException))


def explanation_cause(exc: BaseException) -> tuple[str, str]:
    """(cause, OpenSSL's or urllib3's own words) of a TLS failure. Causes: ``untrusted``,
    ``hostname``, ``expired``, ``not_yet_valid``, ``pin``, ``verify`` (another verification
    error) and ``tls`` (no certificate problem: the handshake itself failed)."""
    innermost = exc
    for one in _chain(exc):
        innermost = one
        if isinstance(one, DatesRefused):
            return one.cause, one.words
        if isinstance(one, ssl.SSLCertVerificationError):
            code = getattr(one, "verify_code", None)
            words = (getattr(one, "verify_message", None) or str(one)).rstrip(".")
            return CODES.get(code, "hostname" if code is None else "verify"), words
        if PIN_MISMATCH in str(one):
            return "pin", PIN_MISMATCH
    return "tls", f"{type(innermost).__name__}: {innermost}"[:200]


@dataclass(frozen=True)
class Explanation:
    text: str
    certificate: Certificate | None


REASONS = {
    "untrusted": "it is not signed by a CA this kiosk trusts",
    "hostname": "it is made out for other names than {host}",
    "expired": "it expired on {not_after}",
    "not_yet_valid": "it is valid only from {not_before}, and this PC's clock says {now}",
    "pin": "it is not the certificate server.cert_sha256 names ({pinned})",
}


def explain(url: str, trust: Trust, cause: str, words: str, cert: Certificate | None,
            unread: str | None) -> Explanation:
    """One paragraph for the log: what was refused and why, the certificate, what to do."""
    scheme, host, port = origin(url)
    where = f"{scheme}://{host}:{port}"
    if cause == "tls":
        return Explanation(f"{where}: TLS handshake failed ({words}); is it an HTTPS port?",
                           cert)
    if cert is None:
        return Explanation(f"{where}: certificate refused ({words}); its certificate could "
                           f"not be read to show it ({unread})", None)
    now = datetime.now(UTC)
    reason = REASONS[cause].format(
        host=host, not_after=cert.not_after.strftime("%Y-%m-%d"),
        not_before=cert.not_before.strftime("%Y-%m-%d"), now=now.strftime("%Y-%m-%d %H:%M UTC"),
        pinned=pretty_fingerprint(trust.cert_sha256 or "")) if cause in REASONS else words
    issued = "self-signed" if cert.self_signed else f"issued by {cert.issuer}"
    names = f", names {' '.join(cert.names)}" if cert.names else ""
    about = (f"{cert.subject or '(no subject)'} ({issued}{names}), {cert.validity()}, "
             f"SHA-256 {pretty_fingerprint(cert.sha256)}")
    line = config_line(cert.sha256)
    if cause in ("expired", "not_yet_valid"):
        todo = ("renew the backend's certificate; an expired one is refused however it is "
                "trusted" if cause == "expired" else "set this PC's date and time")
    elif cause == "pin":
        todo = ("it may not be your backend; if its certificate was replaced on purpose, "
                f"put the new one's line under server: in config.yaml: {line}")
    else:
        instead = " in place of ca_file" if trust.ca_file else ""
        todo = (f"if this is your backend, trust exactly this certificate with this line "
                f"under server: in config.yaml{instead}: {line}")
    return Explanation(f"{where}: certificate refused: {reason} ({words}). The server's "
                       f"certificate: {about}. To fix it: {todo}", cert)


@dataclass(frozen=True)
class TlsState:
    """The TLS state of one base URL, for ``main.py check``."""

    url: str
    trusted: str  # how certificates are trusted, or that the URL is plain http
    ok: bool | None  # None: plain http, no TLS
    certificate: Certificate | None
    problem: str | None  # why it failed, with the line to add when one would fix it

    def lines(self) -> list[str]:
        head = f"{self.url}: " + ("plain http, no TLS" if self.ok is None else
                                  f"TLS {'trusted' if self.ok else 'REFUSED'}, "
                                  f"certificates {self.trusted}")
        lines = [head]
        cert = self.certificate
        if self.ok and cert is not None:
            lines.append(f"  certificate {cert.subject} ({cert.validity()}), "
                         f"SHA-256 {pretty_fingerprint(cert.sha256)}")
        if self.problem:
            lines.append(f"  {self.problem}")
        return lines


def describe(url: str, trust: Trust, timeout_s: float = 4.0) -> TlsState:
    """How ``url`` is trusted and whether its server passes: one HEAD request through the
    kiosk's own session, then the certificate read to show it."""
    if urlsplit(url).scheme != "https":
        return TlsState(url, "plain http", None, None, None)
    from kiosk.api import timeouts

    tls = Tls(trust, timeout_s)
    with tls.session(url) as session:
        try:
            session.head(url.rstrip("/") + "/", timeout=timeouts(timeout_s),
                         allow_redirects=False).close()
        except requests.exceptions.SSLError as exc:
            cause, words = explanation_cause(exc)
            explained = tls.explain(url, cause, words)
            return TlsState(url, trust.how(), False, explained.certificate, explained.text)
        except requests.RequestException as exc:
            return TlsState(url, trust.how(), False, None,
                            f"not reachable ({type(exc).__name__})")
    cert, _ = tls.peek(url)
    return TlsState(url, trust.how(), True, cert, None)
