import sys

from kernelctl.cli import main

sys.exit(main())
