"""The admin exit: a key chord, then a password whose salted hash is in the config.

The config holds ``admin.password_hash`` as ``pbkdf2_sha256$<iterations>$<salt>$<hash>``
(salt and hash in base64), made by ``python main.py hash-password``; the password
itself is never stored. Wrong passwords are counted: after ``MAX_TRIES`` in a row the
prompt refuses for ``LOCKOUT_S``, so a customer cannot guess at the keyboard.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256
SALT_BYTES = 16
MIN_ITERATIONS = 1_000
MAX_ITERATIONS = 10_000_000  # more would freeze the check for minutes on a café PC
MAX_TRIES = 5
LOCKOUT_S = 60.0


@dataclass(frozen=True)
class PasswordHash:
    iterations: int
    salt: bytes
    digest: bytes


def parse_hash(text: str) -> PasswordHash:
    """Read the config's hash line; ValueError says what is wrong with it."""
    parts = text.strip().split("$")
    if len(parts) != 4 or parts[0] != ALGORITHM:
        raise ValueError(f"must look like {ALGORITHM}$<iterations>$<salt>$<hash> "
                         "(made by python main.py hash-password)")
    if not parts[1].isdigit() or not MIN_ITERATIONS <= int(parts[1]) <= MAX_ITERATIONS:
        raise ValueError(f"must have an iteration count from {MIN_ITERATIONS} to "
                         f"{MAX_ITERATIONS}")
    try:
        salt = base64.b64decode(parts[2], validate=True)
        digest = base64.b64decode(parts[3], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must have its salt and hash in base64") from None
    if not salt or len(digest) != hashlib.sha256().digest_size:
        raise ValueError("must have a salt and a 32-byte hash")
    return PasswordHash(int(parts[1]), salt, digest)


def make_hash(password: str, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """The config line for ``password``, with a fresh random salt."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return "$".join([ALGORITHM, str(iterations), base64.b64encode(salt).decode("ascii"),
                     base64.b64encode(digest).decode("ascii")])


def verify(password: str, stored: PasswordHash) -> bool:
    """Whether ``password`` matches, in constant time."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), stored.salt,
                                 stored.iterations)
    return hmac.compare_digest(digest, stored.digest)


class PasswordGate:
    """Counts wrong passwords and locks the prompt out for a while (time passed in)."""

    def __init__(self, max_tries: int = MAX_TRIES, lockout_s: float = LOCKOUT_S) -> None:
        self.max_tries = max_tries
        self.lockout_s = lockout_s
        self.failures = 0
        self.locked_until = 0.0

    def wait_left(self, now: float) -> float:
        """Seconds until another try is allowed (0: now)."""
        return max(0.0, self.locked_until - now)

    def record(self, ok: bool, now: float) -> None:
        if ok:
            self.failures = 0
            return
        self.failures += 1
        if self.failures >= self.max_tries:
            self.failures = 0
            self.locked_until = now + self.lockout_s


def hash_password_command(ask: Callable[[str], str], say: Callable[[str], None],
                          note: Callable[[str], None]) -> int:
    """``python main.py hash-password``: ask twice; ``say`` the config lines to paste
    (and nothing else, so they can be redirected), ``note`` the rest."""
    try:
        first = ask("admin password: ")
        second = ask("same password again: ")
    except (EOFError, KeyboardInterrupt):
        note("no password given; nothing printed")
        return 1
    if not first:
        note("an empty password is not allowed; nothing printed")
        return 1
    if first != second:
        note("the two passwords differ; nothing printed")
        return 1
    note("paste these lines into config.yaml, in place of any admin: section there:")
    say("admin:")
    say(f'  password_hash: "{make_hash(first)}"')
    return 0
