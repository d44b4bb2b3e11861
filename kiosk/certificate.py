"""What an operator is shown of a server's certificate: names, validity, SHA-256 fingerprint.

A reader of the few X.509 fields the kiosk shows, from the certificate's DER bytes. The
standard library verifies certificates but decodes one only after it verified it, and a
certificate the kiosk refused is exactly the one to show; ``cryptography`` would add
16 MB to every café PC and 10 MB to the screen process for these five fields. Anything
that is not a well-formed certificate raises ``ValueError``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime

FINGERPRINT = re.compile(r"[0-9a-f]{64}|[0-9a-f]{2}(?::[0-9a-f]{2}){31}", re.IGNORECASE)
NAMES = {  # attribute type OIDs as openssl prints them
    "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O",
    "2.5.4.11": "OU", "2.5.4.5": "serialNumber", "1.2.840.113549.1.9.1": "emailAddress",
}
SUBJECT_ALT_NAME = "2.5.29.17"
TEXT = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x14: "latin-1", 0x1E: "utf-16-be",
        0x1C: "utf-32-be"}


def parse_fingerprint(text: str) -> str:
    """64 hex digits, plain or in colon-separated pairs, as lowercase hex; else ValueError."""
    text = text.strip()
    if not FINGERPRINT.fullmatch(text):
        raise ValueError("not a SHA-256 fingerprint")
    return text.replace(":", "").lower()


def pretty_fingerprint(hex_digits: str) -> str:
    """``AB:CD:…``, as browsers and ``openssl x509 -fingerprint`` show it."""
    return ":".join(hex_digits[i:i + 2] for i in range(0, len(hex_digits), 2)).upper()


@dataclass(frozen=True)
class Certificate:
    subject: str  # "CN=10.0.0.5, O=Venue" in the certificate's own order
    issuer: str
    not_before: datetime
    not_after: datetime
    names: tuple[str, ...]  # subjectAltName entries: "DNS:backend.lan", "IP:10.0.0.5"
    sha256: str  # lowercase hex of the DER bytes

    @property
    def self_signed(self) -> bool:
        return self.subject == self.issuer

    def validity(self) -> str:
        return f"valid {_day(self.not_before)} to {_day(self.not_after)}"

    def problem_at(self, now: datetime) -> str | None:
        """"expired" or "not_yet_valid" at ``now``, else None."""
        if now > self.not_after:
            return "expired"
        if now < self.not_before:
            return "not_yet_valid"
        return None


def read(der: bytes) -> Certificate:
    """The fields of a DER certificate; ValueError when it is not one."""
    import hashlib  # OpenSSL's hashing: loaded by the screen process only, when shown

    certificate, rest = _take(der, 0x30)
    if rest:
        raise ValueError("bytes after the certificate")
    tbs, _ = _take(certificate, 0x30)
    if tbs[:1] == b"\xa0":  # [0] version
        _, tbs = _take(tbs, 0xA0)
    _, tbs = _take(tbs, 0x02)  # serial number
    _, tbs = _take(tbs, 0x30)  # signature algorithm
    issuer, tbs = _take(tbs, 0x30)
    validity, tbs = _take(tbs, 0x30)
    subject, tbs = _take(tbs, 0x30)
    _, tbs = _take(tbs, 0x30)  # public key
    not_before, validity = _time(validity)
    not_after, _ = _time(validity)
    names: tuple[str, ...] = ()
    while tbs:
        tag, value, tbs = _tlv(tbs)
        if tag == 0xA3:  # [3] extensions
            names = _alt_names(_take(value, 0x30)[0])
    return Certificate(_name(subject), _name(issuer), not_before, not_after, names,
                       hashlib.sha256(der).hexdigest())


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def _tlv(data: bytes) -> tuple[int, bytes, bytes]:
    """One DER element: its tag, its contents and what follows it."""
    if len(data) < 2:
        raise ValueError("truncated")
    tag, length, start = data[0], data[1], 2
    if tag & 0x1F == 0x1F:
        raise ValueError("high tag numbers are not used in certificates")
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4 or len(data) < 2 + count:
            raise ValueError("bad length")
        length, start = int.from_bytes(data[2:2 + count], "big"), 2 + count
    if len(data) < start + length:
        raise ValueError("truncated")
    return tag, data[start:start + length], data[start + length:]


def _take(data: bytes, tag: int) -> tuple[bytes, bytes]:
    found, value, rest = _tlv(data)
    if found != tag:
        raise ValueError(f"expected tag {tag:#x}, found {found:#x}")
    return value, rest


def _oid(value: bytes) -> str:
    if not value:
        raise ValueError("empty object identifier")
    parts, number = [], 0
    for byte in value:
        number = number << 7 | byte & 0x7F
        if not byte & 0x80:
            parts.append(number)
            number = 0
    first = min(parts[0] // 40, 2)
    return ".".join(str(n) for n in (first, parts[0] - 40 * first, *parts[1:]))


def _text(tag: int, value: bytes) -> str:
    encoding = TEXT.get(tag)
    if encoding is None:
        return "#" + value.hex()
    try:
        return value.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ValueError("undecodable name") from exc


def _name(value: bytes) -> str:
    parts = []
    while value:
        rdn, value = _take(value, 0x31)
        while rdn:
            pair, rdn = _take(rdn, 0x30)
            oid, pair = _take(pair, 0x06)
            tag, text, _ = _tlv(pair)
            key = _oid(oid)
            parts.append(f"{NAMES.get(key, key)}={_text(tag, text)}")
    return ", ".join(parts)


def _time(data: bytes) -> tuple[datetime, bytes]:
    tag, value, rest = _tlv(data)
    text = value.decode("ascii", "replace")
    if tag == 0x17 and re.fullmatch(r"\d{12}Z", text):  # UTCTime: YY below 50 is 20YY
        year = int(text[:2])
        text = f"{year + (2000 if year < 50 else 1900)}{text[2:]}"
    elif tag != 0x18 or not re.fullmatch(r"\d{14}Z", text):
        raise ValueError("bad time")
    try:
        moment = datetime.strptime(text, "%Y%m%d%H%M%SZ")
    except ValueError as exc:
        raise ValueError("bad time") from exc
    return moment.replace(tzinfo=UTC), rest


def _alt_names(extensions: bytes) -> tuple[str, ...]:
    """The DNS names and IP addresses of the subjectAltName extension, if there is one."""
    while extensions:
        extension, extensions = _take(extensions, 0x30)
        oid, extension = _take(extension, 0x06)
        if _oid(oid) != SUBJECT_ALT_NAME:
            continue
        if extension[:1] == b"\x01":  # critical
            _, extension = _take(extension, 0x01)
        general_names, _ = _take(_take(extension, 0x04)[0], 0x30)
        names = []
        while general_names:
            tag, item, general_names = _tlv(general_names)
            if tag == 0x82:  # [2] dNSName
                names.append("DNS:" + _text(0x16, item))
            elif tag == 0x87 and len(item) in (4, 16):  # [7] iPAddress
                names.append(f"IP:{ipaddress.ip_address(item)}")
        return tuple(names)
    return ()
