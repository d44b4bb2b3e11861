"""``server.base_url: embedded``: the simulator as a process of its own beside the kiosk.

It runs detached, so a guardian that is killed does not take the customers'
sessions with it: the guardian that replaces it finds the simulator still
answering on its port and keeps using it.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import threading

from kiosk.config import Config
from kiosk.platform import detached, self_argv

log = logging.getLogger(__name__)

URL_LINE = re.compile(r"(http://127\.0\.0\.1:\d+)/")
START_TIMEOUT_S = 15.0


def answers_at(url: str) -> bool:
    """Whether a simulator already serves ``url`` (left by a guardian that died)."""
    import urllib.request  # here: it pulls in http.client and ssl, heavy for the guardian

    try:
        with urllib.request.urlopen(url + "/control/state", timeout=1) as response:
            return "clients" in json.loads(response.read(1 << 20))
    except (OSError, ValueError):
        return False


def cli_args(config: Config, port: int) -> list[str]:
    """``python -m kiosk.simulator`` arguments that carry the config's ``simulator`` keys."""
    sim = config.simulator
    args = ["--port", str(port), "--rate", str(sim.rate_per_min),
            "--report-timeout", str(sim.report_timeout_s), "--service-num", sim.service_num]
    return args + (["--files", str(sim.files_dir)] if sim.files_dir else [])


class EmbeddedSimulator:
    """Starts (or finds) the simulator and stops the one it started."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.process: subprocess.Popen | None = None

    def start(self, port: int) -> str:
        """The simulator's base URL: ``port`` if possible, else a free one."""
        for candidate in dict.fromkeys((port, 0)):
            url = f"http://127.0.0.1:{candidate}"
            if candidate and answers_at(url):
                log.info("a simulator already answers at %s; using it", url)
                return url
            found = self._spawn(candidate)
            if found:
                return found
            log.warning("the simulator could not listen on port %d", candidate)
        raise OSError("the embedded simulator did not start")

    def _spawn(self, port: int) -> str | None:
        argv = self_argv("--config", str(self.config.path), "--role", "simulator",
                         *cli_args(self.config, port))
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   **detached())
        assert process.stdout is not None
        first: list[bytes] = []
        reader = threading.Thread(target=lambda: first.append(process.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(START_TIMEOUT_S)
        match = URL_LINE.search(first[0].decode("utf-8", "replace")) if first else None
        if match is None:
            process.kill()
            process.wait()
            return None
        process.stdout.close()
        self.process = process
        return match.group(1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
