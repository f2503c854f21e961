"""The launch wrapper that every kernelctl kernelspec runs (copied next to its kernel.json)."""

from pathlib import Path

LAUNCHER_SOURCE = Path(__file__).with_name("kernelctl_launch.py")
LAUNCHER_NAME = "kernelctl-launch.py"
CONFIG_NAME = "kernelctl-launch.json"
