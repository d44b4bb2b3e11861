"""Local stand-in for the venue backend, so the kiosk runs and is tested without one."""

from kiosk.simulator.server import Simulator

__all__ = ["Simulator"]
