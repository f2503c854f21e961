"""Start a kernelctl kernel: prepare its environment, then exec the kernel in its place.

Copied next to kernel.json and run as ``<env python> -I -S kernelctl-launch.py ARGS...``.
It uses the standard library only and reads everything it needs from the
``kernelctl-launch.json`` beside it, so kernels keep working when kernelctl itself is
upgraded or uninstalled. No shell is involved: every value is data.

Config keys:
  exec      argv of the kernel; the launcher's own arguments are appended
  env       variables to set
  path      directories to put first on PATH (after anything else changed PATH)
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def fail(message):
    sys.stderr.write("kernelctl-launch: %s\n" % message)
    sys.exit(1)


def prepend_path(env, directories):
    parts = [p for p in env.get("PATH", "").split(os.pathsep) if p and p not in directories]
    env["PATH"] = os.pathsep.join(list(directories) + parts)


def main(argv):
    try:
        with open(os.path.join(HERE, "kernelctl-launch.json"), encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as err:
        fail("cannot read kernelctl-launch.json next to the launcher: %s" % err)
    env = dict(os.environ)
    env.update(config.get("env", {}))
    prepend_path(env, config.get("path", []))
    command = list(config["exec"]) + list(argv)
    try:
        os.execve(command[0], command, env)
    except OSError as err:
        fail("cannot start %s: %s (rebuild the kernel with 'kernelctl rebuild')" % (command[0], err))


if __name__ == "__main__":
    main(sys.argv[1:])
