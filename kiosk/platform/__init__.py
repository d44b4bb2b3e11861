"""What differs between Windows café PCs and the Linux machines we test on.

Everything platform-specific sits behind this small interface; each function
takes the platform as a parameter so the Windows branch is tested on Linux.
"""

from kiosk.platform.process import detached, self_argv, ui_environment
from kiosk.platform.reboot import Rebooter, reboot_argv

__all__ = ["Rebooter", "detached", "reboot_argv", "self_argv", "ui_environment"]
