"""What differs between Windows café PCs and the Linux machines we test on.

Everything platform-specific sits behind this small interface; each function
takes the platform as a parameter so the Windows branch is tested on Linux.
"""

from kiosk.platform.instance import InstanceLock
from kiosk.platform.maintenance import Maintenance, MaintenanceWatch
from kiosk.platform.process import detached, kill, self_argv, ui_environment
from kiosk.platform.reboot import Outcome, Rebooter, reboot_plan

__all__ = ["InstanceLock", "Maintenance", "MaintenanceWatch", "Outcome", "Rebooter", "detached",
           "kill", "reboot_plan", "self_argv", "ui_environment"]
