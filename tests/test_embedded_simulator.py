"""``server.base_url: embedded``: the simulator outlives a guardian that is killed."""

from __future__ import annotations

import socket
from pathlib import Path

import requests

from kiosk import config
from kiosk.simulator.embedded import EmbeddedSimulator, answers_at


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def embedded_config(tmp_path: Path, port: int) -> config.Config:
    path = tmp_path / "config.yaml"
    path.write_text(f"client: {{id: '42'}}\nsimulator: {{port: {port}, rate_per_min: 2.5, "
                    f"service_num: '4008123123'}}\nlog: {{dir: logs}}\n", encoding="utf-8")
    return config.load(path)


def test_embedded_simulator_serves_the_configured_rate_and_number(tmp_path):
    port = free_port()
    simulator = EmbeddedSimulator(embedded_config(tmp_path, port))
    url = simulator.start(port)
    try:
        assert url == f"http://127.0.0.1:{port}"
        assert requests.get(url + "/rest/serviceNum", timeout=2).json() == {
            "data": 1, "serviceNum": "4008123123"}
        assert requests.get(url + "/control/state", timeout=2).json()["rate_per_min"] == 2.5
    finally:
        simulator.stop()
    assert not answers_at(url)


def test_a_new_guardian_keeps_the_running_simulator_and_its_sessions(tmp_path):
    port = free_port()
    cfg = embedded_config(tmp_path, port)
    first = EmbeddedSimulator(cfg)
    url = first.start(port)
    try:
        requests.post(url + "/control/start", params={"clientId": "42"}, timeout=2)
        second = EmbeddedSimulator(cfg)
        assert second.start(port) == url
        assert second.process is None  # found, not started again
        status = requests.get(url + "/rest/status_client", params={"clientId": "42"},
                              timeout=2).json()
        assert status["onlineStatus"] == 2
    finally:
        first.stop()


def test_a_busy_port_gives_the_simulator_another_one(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        simulator = EmbeddedSimulator(embedded_config(tmp_path, port))
        url = simulator.start(port)
        try:
            assert url != f"http://127.0.0.1:{port}" and answers_at(url)
        finally:
            simulator.stop()
