"""Certificates made at test time (``cryptography``), and HTTPS simulators serving them."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
except ImportError as exc:
    if sys.platform != "win32":
        raise
    # Under Wine the wheel's Rust part does not load (it needs bcryptprimitives.dll): the
    # tests that make certificates, or the module importing this one, are skipped there.
    pytest.skip(f"cryptography does not load under Wine: {exc}", allow_module_level=True)

from kiosk.simulator import Simulator

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Made:
    """A certificate and its key, as PEM files in ``folder``."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    folder: Path
    name: str

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def sha256(self) -> str:
        return self.cert.fingerprint(hashes.SHA256()).hex()

    @property
    def pem_file(self) -> Path:
        return self.folder / f"{self.name}.pem"

    @property
    def key_file(self) -> Path:
        return self.folder / f"{self.name}.key"

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pem_file, self.key_file)
        return context


def make(folder: Path, name: str, *, names: Sequence[str] = ("127.0.0.1",),
         subject: dict | None = None, issuer: Made | None = None, ca: bool = False,
         not_before: dt.datetime | None = None, not_after: dt.datetime | None = None) -> Made:
    """A certificate for ``names`` (IP addresses or DNS names), self-signed unless
    ``issuer`` signs it; valid from yesterday for a year unless told otherwise."""
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = subject or {NameOID.COMMON_NAME: names[0] if names else name}
    name_of = x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes.items()])
    alt = [x509.IPAddress(ipaddress.ip_address(n)) if _is_ip(n) else x509.DNSName(n)
           for n in names]
    builder = (x509.CertificateBuilder()
               .subject_name(name_of)
               .issuer_name(issuer.cert.subject if issuer else name_of)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before or NOW - DAY)
               .not_valid_after(not_after or NOW + 365 * DAY)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if alt:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    made = Made(cert, key, folder, name)
    folder.mkdir(parents=True, exist_ok=True)
    made.pem_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    made.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    return made


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def https_simulator(made: Made, files_dir: Path | None = None) -> Simulator:
    """A started simulator serving HTTPS on loopback with ``made``; stop it after use."""
    simulator = Simulator(files_dir=files_dir, tls=made.server_context())
    simulator.start()
    return simulator
