"""The watches' shared loop: it looks every period, survives a look that fails, and ends
when what it waited for has happened or when it is stopped."""

from __future__ import annotations

import logging
import threading

from kiosk.periodic import Periodic


def test_a_failing_look_is_logged_and_the_next_one_runs(caplog):
    looks: list[int] = []
    done = threading.Event()

    def look() -> bool:
        looks.append(1)
        if len(looks) == 1:
            raise RuntimeError("a registry surprise")
        done.set()
        return True

    with caplog.at_level(logging.ERROR, logger="kiosk.periodic"):
        Periodic("test-look", 0.01, look).start()
        assert done.wait(10)
    failed = [r for r in caplog.records if r.getMessage() == "test-look check failed"]
    assert len(failed) == 1 and failed[0].exc_info is not None


def test_it_ends_once_the_look_says_done():
    looks: list[int] = []
    looked = threading.Event()

    def look() -> bool:
        looks.append(1)
        looked.set()
        return True

    Periodic("test-done", 0.01, look).start()
    assert looked.wait(10)
    for thread in [t for t in threading.enumerate() if t.name == "test-done"]:
        thread.join(10)  # it ends by itself, without stop()
        assert not thread.is_alive()
    assert looks == [1]


def test_stop_ends_it_without_another_look():
    looks: list[int] = []
    watch = Periodic("test-stop", 60, lambda: looks.append(1) or False).start()
    watch.stop()
    for thread in [t for t in threading.enumerate() if t.name == "test-stop"]:
        thread.join(10)
        assert not thread.is_alive()
    assert looks == []
