"""未登记的机器 notices by itself that an operator has added the PC to clients.csv."""

from __future__ import annotations

import logging
import threading
import time

from kiosk import config
from kiosk.identity import Identity, Machine, Unregistered
from kiosk.registration import RegistrationWatch

STRANGER = Machine("PC-77", ("52:54:00:77:77:77",))
CSV = "hostname,mac,client_id\nPC-01,,370001\n"


def save(folder, text: str) -> None:
    """The operator saves clients.csv (the test's stand-in for Excel or Notepad)."""
    (folder / "clients.csv").write_text(text, encoding="utf-8")


def watch_for(tmp_path, found: list[Identity] | None = None, check_s: float = 10):
    save(tmp_path, CSV)
    (tmp_path / "config.yaml").write_text(
        f"client:\n  id: auto\n  map_file: clients.csv\n  map_check_s: {check_s}\n",
        encoding="utf-8")
    cfg = config.load(tmp_path / "config.yaml")
    sink = found if found is not None else []
    return RegistrationWatch(cfg, Unregistered(STRANGER, cfg.client_map_file), sink.append)


def test_the_machine_is_found_once_its_line_is_added(tmp_path):
    watch = watch_for(tmp_path)
    assert watch.check() is None
    save(tmp_path, CSV + "pc-77,,370077\n")
    assert watch.check() == Identity("370077", "clients.csv by hostname PC-77")


def test_a_file_caught_half_saved_is_logged_once_and_read_again(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="kiosk.registration")
    watch = watch_for(tmp_path)
    save(tmp_path, "hostname,mac,client_id\nPC-77,,\n")  # the id not typed yet
    assert watch.check() is None and watch.check() is None
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "line 2 has an empty client_id" in warnings[0]
    save(tmp_path, "hostname,mac,client_id\nPC-77,,370077\n")
    assert watch.check() == Identity("370077", "clients.csv by hostname PC-77")


def test_a_missing_file_is_waited_for(tmp_path):
    watch = watch_for(tmp_path)
    (tmp_path / "clients.csv").unlink()
    assert watch.check() is None
    save(tmp_path, "hostname,mac,client_id\n,52-54-00-77-77-77,370077\n")
    assert watch.check().client_id == "370077"


def test_the_watch_tells_once_and_ends(tmp_path):
    found: list[Identity] = []
    told = threading.Event()
    watch = watch_for(tmp_path, found, check_s=0.05)
    watch.on_found = lambda identity: (found.append(identity), told.set())
    watch.start()
    assert not told.wait(0.3)  # not registered: nothing told
    save(tmp_path, CSV + "PC-77,,370077\n")
    assert told.wait(5)
    save(tmp_path, CSV + "PC-77,,370078\n")
    time.sleep(0.3)  # six more periods: the watch ended after telling
    assert [f.client_id for f in found] == ["370077"]
    watch.stop()
