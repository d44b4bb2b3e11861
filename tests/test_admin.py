"""The admin exit: the password hash in the config, the prompt, and the lockout."""

from __future__ import annotations

import os
import time

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
import pygame  # noqa: E402

from kiosk import admin, config  # noqa: E402
from kiosk.admin import PasswordGate, hash_password_command, make_hash, parse_hash, verify  # noqa: E402
from kiosk.scenes.overlay import AdminExit, is_admin_chord  # noqa: E402

FAST = 1000  # iterations: the lowest accepted, so the tests stay quick
CHORD_MODS = pygame.KMOD_LCTRL | pygame.KMOD_LALT | pygame.KMOD_RSHIFT


def test_hash_verifies_the_right_password_only():
    stored = parse_hash(make_hash("网管 secret", FAST))
    assert verify("网管 secret", stored)
    assert not verify("网管 secreT", stored)
    assert not verify("", stored)


def test_each_hash_has_its_own_salt():
    assert make_hash("same", FAST) != make_hash("same", FAST)


def test_default_hash_uses_the_strong_iteration_count():
    line = make_hash("x", salt=b"0123456789abcdef")
    assert line.split("$")[:2] == ["pbkdf2_sha256", str(admin.ITERATIONS)]


@pytest.mark.parametrize("text", [
    "pbkdf2_sha1$1000$AAAA$AAAA",
    "pbkdf2_sha256$1000$AAAA",
    "pbkdf2_sha256$10$c2FsdA==$" + "A" * 44,  # too few iterations
    "pbkdf2_sha256$99999999999$c2FsdA==$" + "A" * 44,  # would freeze the check
    "pbkdf2_sha256$1000$not base64!$" + "A" * 44,
    "pbkdf2_sha256$1000$c2FsdA==$c2hvcnQ=",  # not a SHA-256 digest
    "plain-password",
])
def test_malformed_hashes_are_refused(text):
    with pytest.raises(ValueError):
        parse_hash(text)


def test_malformed_hash_in_config_is_one_sentence_naming_the_key(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text('client: {id: "1"}\nadmin: {password_hash: "letmein"}\n', encoding="utf-8")
    with pytest.raises(config.ConfigError) as caught:
        config.load(path)
    message = str(caught.value)
    assert "admin.password_hash" in message and message.endswith(".") and "\n" not in message


def test_gate_locks_out_after_five_wrong_tries_then_lets_in_again():
    gate = PasswordGate(max_tries=5, lockout_s=60)
    for i in range(4):
        gate.record(False, now=10.0 + i)
        assert gate.wait_left(10.0 + i) == 0
    gate.record(False, now=20.0)
    assert gate.wait_left(20.0) == 60
    assert gate.wait_left(79.0) == 1
    assert gate.wait_left(80.0) == 0
    gate.record(False, now=81.0)  # a fresh count after the lockout
    assert gate.wait_left(81.0) == 0


def test_right_password_resets_the_count():
    gate = PasswordGate(max_tries=2, lockout_s=60)
    gate.record(False, 0)
    gate.record(True, 1)
    gate.record(False, 2)
    assert gate.wait_left(2) == 0


def run_command(*answers: str) -> tuple[int, list[str], list[str]]:
    said: list[str] = []
    notes: list[str] = []
    replies = iter(answers)
    code = hash_password_command(lambda prompt: next(replies), said.append, notes.append)
    return code, said, notes


def test_hash_password_command_prints_only_config_lines_that_verify():
    code, said, _ = run_command("open sesame", "open sesame")
    assert code == 0
    assert said[0] == "admin:" and said[1].startswith("  password_hash: ") and len(said) == 2
    assert verify("open sesame", parse_hash(said[1].split(": ", 1)[1].strip('"')))


@pytest.mark.parametrize("answers", [("a", "b"), ("", "")])
def test_hash_password_command_refuses_mismatch_and_empty(answers):
    code, said, notes = run_command(*answers)
    assert code == 1 and said == [] and "nothing printed" in notes[-1]


# --- the prompt --------------------------------------------------------------------


def key(k: int, unicode: str = "", mod: int = 0) -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYDOWN, key=k, mod=mod, unicode=unicode)


CHORD = key(pygame.K_F10, mod=CHORD_MODS)


def type_text(prompt: AdminExit, text: str) -> None:
    for ch in text:
        assert prompt.handle(key(ord(ch.lower()) if ch.isascii() else 0, ch), 0.0)


def submit(prompt: AdminExit, now: float) -> bool:
    prompt.handle(key(pygame.K_RETURN), now)
    for _ in range(200):
        if prompt._checking is None:
            break
        time.sleep(0.01)
        if prompt.poll(now):
            return True
    return prompt.poll(now)


@pytest.fixture
def prompt() -> AdminExit:
    return AdminExit(parse_hash(make_hash("pw1", FAST)), PasswordGate(max_tries=3, lockout_s=30))


def test_chord_needs_ctrl_alt_and_shift():
    assert is_admin_chord(CHORD)
    assert not is_admin_chord(key(pygame.K_F10, mod=pygame.KMOD_CTRL | pygame.KMOD_ALT))
    assert not is_admin_chord(key(pygame.K_F9, mod=CHORD_MODS))


def test_chord_without_a_configured_hash_does_nothing_but_log(caplog):
    prompt = AdminExit(None)
    assert prompt.handle(CHORD, 0.0)  # swallowed: F10 never reaches the page
    assert not prompt.open and "password_hash is not set" in caplog.text
    assert not prompt.handle(key(pygame.K_a, "a"), 0.0)


def test_keys_reach_the_page_until_the_chord_opens_the_prompt(prompt):
    assert not prompt.handle(key(pygame.K_a, "a"), 0.0)
    assert prompt.handle(CHORD, 0.0) and prompt.open
    type_text(prompt, "pw")
    assert prompt.typed == "pw"
    prompt.handle(key(pygame.K_BACKSPACE), 0.0)
    assert prompt.typed == "p"


def test_escape_cancels_and_forgets_what_was_typed(prompt):
    prompt.handle(CHORD, 0.0)
    type_text(prompt, "pw1")
    prompt.handle(key(pygame.K_ESCAPE), 0.0)
    assert not prompt.open and prompt.typed == ""
    assert not prompt.poll(0.0)


def test_right_password_exits(prompt):
    prompt.handle(CHORD, 0.0)
    type_text(prompt, "pw1")
    assert submit(prompt, 0.0)


def test_wrong_passwords_say_so_then_lock_the_prompt_out(prompt):
    prompt.handle(CHORD, 0.0)
    for _ in range(3):
        type_text(prompt, "nope")
        assert not submit(prompt, 1.0)
        assert prompt.message == "admin_wrong" and prompt.typed == ""
    type_text(prompt, "pw1")  # the right one, but during the lockout
    assert not submit(prompt, 2.0)
    assert prompt._checking is None and prompt.typed == "pw1"
    assert submit(prompt, 31.5)  # after the 30 s lockout


def test_prompt_draws_on_a_full_screen_and_on_the_widget(prompt):
    pygame.font.init()
    prompt.handle(CHORD, 0.0)
    type_text(prompt, "abc")
    for size in ((1280, 720), (320, 180)):
        surface = pygame.Surface(size)
        surface.fill((1, 2, 3))
        prompt.draw(surface, 0.0)
        centre = surface.get_at((size[0] // 2, size[1] // 2))[:3]
        assert centre != (1, 2, 3), f"nothing drawn at {size}"


def test_main_hash_password_prints_a_line_the_config_accepts(tmp_path, monkeypatch, capsys):
    import getpass

    import main

    monkeypatch.setattr(getpass, "getpass", lambda prompt="": "café admin")
    assert main.main(["hash-password"]) == 0
    path = tmp_path / "config.yaml"
    path.write_text('client: {id: "1"}\n' + capsys.readouterr().out, encoding="utf-8")
    stored = config.load(path).guard.admin_password_hash
    assert stored is not None and verify("café admin", parse_hash(stored))
