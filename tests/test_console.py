"""Console output never kills a process (kiosk/console.py): on a stream whose code page has
no Chinese (a pipe on a Western Windows, an ASCII Linux pipe) and with no console at all
(pythonw, the windowed build), the guardian announces its simulator and carries on."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import main
from kiosk import guardian
from kiosk.simulator import embedded
from kiosk.simulator.embedded import answers_at

ANNOUNCED = "(embedded simulator) control page: http://127.0.0.1:{port}/"
ESCAPED = r"\u6a21\u62df\u540e\u53f0"  # 模拟后台, as a stream without those characters shows it


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("encoding", ["cp1252", "ascii", None],
                         ids=["western-windows-pipe", "ascii-pipe", "no-console"])
def test_the_guardian_announces_its_simulator_on_any_console_and_stops_it_after(
        tmp_path, monkeypatch, encoding):
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(f"server: {{base_url: embedded}}\nclient: {{id: '42'}}\n"
                    f"simulator: {{port: {port}}}\nlog: {{dir: logs}}\n", encoding="utf-8")
    out = io.BytesIO()
    stream = io.TextIOWrapper(out, encoding, write_through=True) if encoding else None
    monkeypatch.setattr(sys, "stdout", stream)
    monkeypatch.setattr(sys, "stderr", stream)
    started: list[embedded.EmbeddedSimulator] = []

    class Seen(embedded.EmbeddedSimulator):
        def start(self, port: int) -> str:
            started.append(self)
            return super().start(port)

    monkeypatch.setattr(embedded, "EmbeddedSimulator", Seen)
    monkeypatch.setattr(guardian.Guardian, "run", lambda self: 0)  # the watch is not this test's
    monkeypatch.setattr(signal, "signal", lambda signum, handler: None)  # pytest keeps Ctrl+C
    try:
        assert main.main(["--config", str(path)]) == 0
    finally:
        for simulator in started:  # what a guardian that died would have left running
            simulator.stop()
    assert len(started) == 1 and not answers_at(f"http://127.0.0.1:{port}")
    if encoding:
        text = out.getvalue().decode(encoding)
        assert f"{ESCAPED} {ANNOUNCED.format(port=port)}" in text


SCRIPT = """\
import logging, sys
from kiosk import console, logs
console.make_safe()
print("encoding", getattr(sys.stdout, "encoding", None), flush=True)
print("模拟后台 (embedded simulator) control page", flush=True)
print("模拟后台 on stderr", file=sys.stderr, flush=True)
logs.setup(None, "kiosk")
logging.getLogger("kiosk").warning("模拟后台 logged")
open(sys.argv[1], "w").write(f"alive; stdout {sys.stdout!r}")
"""


def run_script(tmp_path: Path, executable: str, env: dict[str, str],
               **options: object) -> tuple[str, str, str]:
    """The script in a process of its own: what it wrote, and what it says of its stdout
    once it got past its prints."""
    marker = tmp_path / "alive"
    options = {"capture_output": True} | options
    done = subprocess.run([executable, "-c", SCRIPT, str(marker)], env=env,
                          cwd=Path(main.__file__).parent, timeout=60, **options)
    stderr = (done.stderr or b"").decode("ascii", "replace")
    assert done.returncode == 0, stderr
    said = marker.read_text()
    assert said.startswith("alive")
    return (done.stdout or b"").decode("ascii", "replace"), stderr, said


def plain_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "PYTHONUTF8")}
    return env | extra


@pytest.mark.linux
def test_a_linux_process_writes_chinese_to_an_ascii_pipe_as_escapes(tmp_path):
    out, err, _ = run_script(tmp_path, sys.executable, plain_env(PYTHONIOENCODING="ascii"))
    assert "encoding ascii" in out
    assert f"{ESCAPED} (embedded simulator) control page" in out
    assert f"{ESCAPED} on stderr" in err and f"{ESCAPED} logged" in err


@pytest.mark.win32
def test_a_windows_process_writes_chinese_to_a_western_code_page_pipe_as_escapes(tmp_path):
    """A pipe takes the ANSI code page. Under Wine that follows the Linux locale (cp1252
    under ``C`` or none, as a Western Windows); on a Chinese one (cp936) the text passes
    as it is, so the Western code page is then asked for by name."""
    import locale

    ansi = locale.getpreferredencoding(False)
    western = "你".encode(ansi, "ignore") == b""
    env = plain_env() if western else plain_env(PYTHONIOENCODING="cp1252")
    out, err, _ = run_script(tmp_path, sys.executable, env)
    assert "encoding cp1252" in out
    assert f"{ESCAPED} (embedded simulator) control page" in out
    assert f"{ESCAPED} on stderr" in err and f"{ESCAPED} logged" in err


@pytest.mark.win32
def test_pythonw_with_pipes_writes_escapes_and_without_a_console_writes_nothing(tmp_path):
    """pythonw (and the windowed kiosk.exe) has no console. Given pipes, its streams are
    in the ANSI code page; started detached, with none, they are None."""
    pythonw = str(Path(sys.executable).with_name("pythonw.exe"))
    out, _, _ = run_script(tmp_path, pythonw, plain_env(PYTHONIOENCODING="cp1252"))
    assert f"{ESCAPED} (embedded simulator) control page" in out
    _, _, said = run_script(tmp_path, pythonw, plain_env(), capture_output=False,
                            creationflags=subprocess.DETACHED_PROCESS)  # type: ignore[attr-defined]
    assert said == "alive; stdout None"
