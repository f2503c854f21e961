"""Start a kernelctl kernel: prepare its environment, then exec the kernel in its place.

Copied next to kernel.json and run as ``<python> -I -S kernelctl-launch.py ARGS...``.
It uses the standard library only and reads everything it needs from the
``kernelctl-launch.json`` beside it, so kernels keep working when kernelctl itself is
upgraded or uninstalled. No shell is involved: every value is data. kernelctl imports the
module-loading part of this file to load the same modules the same way at create time.
A Python kernel without modules does not run this launcher: its kernel.json starts
``exec`` directly, because kernel.json's env already does what ``env`` and ``path`` do.

Config keys (applied in this order):
  modules        module names to load, in order (optional)
  purge          true: ``module purge`` first (optional)
  module_system  how to run the module command without the server's module variables
                 (present when ``modules`` or ``purge`` is):
                   kind        "lmod" (Lmod) or "tcl" (Environment Modules)
                   command     argv of the module command; "python", the subcommand and
                               its arguments are appended
                   modulepath  MODULEPATH to load from
  env            variables to set
  path           directories to put first on PATH
  prepend        {VAR: [dirs]}: dirs go first in the path list VAR, before its current
                 value; an unset VAR leaves a trailing empty entry, which tools such as
                 Julia read as "then the default locations"
  exec           argv of the kernel; the launcher's own arguments are appended; a bare
                 program name is looked up on the final PATH

The module command prints Python code (``os.environ[...] = ...``); it is never executed.
Only its environment assignments and deletions and its ``_mlstatus`` flag are read, as
literals, so neither a module name nor a value can run code. When a module cannot be
loaded, the launcher exits with status 1 and the module system's message on stderr: a
kernel never starts without its modules.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


class ModuleError(Exception):
    """A module command failed: the message says which modules and why, in one line;
    ``details`` holds the module system's whole message."""

    def __init__(self, message, details=""):
        Exception.__init__(self, message)
        self.details = details


def fail(message):
    sys.stderr.write("kernelctl-launch: %s\n" % message)
    sys.exit(1)


def prepend_path(env, directories):
    parts = [p for p in env.get("PATH", "").split(os.pathsep) if p and p not in directories]
    env["PATH"] = os.pathsep.join(list(directories) + parts)


def _literal(node):
    import ast

    if type(node).__name__ == "Index":  # Python 3.8 wraps subscripts in ast.Index
        node = node.value
    return ast.literal_eval(node)


def _environ_key(node):
    """The variable name when ``node`` is ``os.environ[<literal>]``, else None."""
    import ast

    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
            and node.value.attr == "environ" and isinstance(node.value.value, ast.Name)
            and node.value.value.id == "os"):
        key = _literal(node.slice)
        return key if isinstance(key, str) else None
    return None


def apply_module_output(code, env):
    """Apply the environment changes in a module command's Python output to ``env``.

    Returns the last ``_mlstatus`` value printed (None when there was none). Statements
    other than environment assignments and deletions (imports, ``os.chdir``, X resources)
    do not concern a kernel and are skipped.
    """
    import ast

    status = None
    for statement in ast.parse(code).body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name) and target.id == "_mlstatus":
                status = _literal(statement.value)
                continue
            key = _environ_key(target)
            value = _literal(statement.value) if key is not None else None
            if isinstance(value, str):
                env[key] = value
        elif isinstance(statement, ast.Delete):
            for target in statement.targets:
                key = _environ_key(target)
                if key is not None:
                    env.pop(key, None)
    return status


def _summary(text):
    """The module system's error message on one line: its first paragraph, without the
    trace that follows ("While processing...", "while executing...")."""
    kept = []
    for line in text.strip().splitlines():
        line = line.strip()
        if not line or line.lower().startswith(("while processing", "while executing")):
            break
        kept.append(line)
    return " ".join(kept) or "(no message)"


def module_command(system, env, args, what):
    """Run ``<module command> python ARGS`` in ``env`` and apply its changes to ``env``.

    Raises ModuleError naming ``what`` with the module system's own message when the
    command cannot run or reports failure. Messages it prints on success are passed on.
    """
    import subprocess

    label = "Lmod" if system["kind"] == "lmod" else "Environment Modules"
    argv = list(system["command"]) + ["python"] + list(args)
    try:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
    except OSError as err:
        raise ModuleError("cannot %s: %s cannot run (%s)" % (what, label, err))
    import ast  # noqa: F401 -- imported while the module command runs, for apply_module_output

    output, errors = proc.communicate()
    errors = errors.decode("utf-8", "replace")
    try:
        status = apply_module_output(output.decode("utf-8", "replace"), env)
    except (SyntaxError, ValueError) as err:
        raise ModuleError("cannot %s: %s printed output kernelctl cannot read (%s)" % (what, label, err))
    if proc.returncode != 0 or status is False:
        raise ModuleError("cannot %s (%s): %s" % (what, label, _summary(errors)), errors)
    if errors.strip():
        sys.stderr.write(errors)


def load_modules(config, env):
    """Purge (if asked) and load the configured modules into ``env``, in order."""
    system = config["module_system"]
    env["MODULEPATH"] = system["modulepath"]
    if config.get("purge"):
        module_command(system, env, ["purge"], "purge modules")
    names = list(config.get("modules", []))
    if names:
        plural = "module" if len(names) == 1 else "modules"
        module_command(system, env, ["load"] + names, "load %s %s" % (plural, ", ".join(names)))


def main(argv):
    try:
        with open(os.path.join(HERE, "kernelctl-launch.json"), encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as err:
        fail("cannot read kernelctl-launch.json next to the launcher: %s" % err)
    env = dict(os.environ)
    if config.get("modules") or config.get("purge"):
        try:
            load_modules(config, env)
        except ModuleError as err:
            if err.details.strip():
                sys.stderr.write(err.details.rstrip("\n") + "\n")
            fail("%s; the kernel was not started" % err)
    env.update(config.get("env", {}))
    prepend_path(env, config.get("path", []))
    for name, directories in config.get("prepend", {}).items():
        env[name] = os.pathsep.join(list(directories) + [env.get(name, "")])
    command = list(config["exec"]) + list(argv)
    try:
        os.execvpe(command[0], command, env)
    except OSError as err:
        fail("cannot start %s: %s (rebuild the kernel with 'kernelctl rebuild')" % (command[0], err))


if __name__ == "__main__":
    main(sys.argv[1:])
