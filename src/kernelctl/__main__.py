import sys

from kernelctl.cli import script

sys.exit(script())
