"""The files the provisioner and the agent in the job exchange through one private run
directory on the shared filesystem (mode 0700, every file 0600, written atomically).

Standard library only: the agent imports this module on the compute node without kernelctl.

- ``secrets.json`` (provisioner -> agent): the kernel's argv, its HMAC key, its Curve keys and
  a one-time ``token``; these never appear on a command line or in a world-readable file.
- ``start.json`` (provisioner -> agent): a request to start generation N of the kernel in the
  running job (a restart that reuses the allocation).
- ``report.json`` (agent -> provisioner): where the kernel listens and what state it is in,
  signed with HMAC-SHA256 under ``token`` so a stale or forged report is refused.
- ``heartbeat``: its mtime is refreshed by the server while it lives; the agent ends the job
  when it stops changing.
"""

import hashlib
import hmac
import json
import os
import tempfile

SECRETS = "secrets.json"
START = "start.json"
REPORT = "report.json"
HEARTBEAT = "heartbeat"
CONNECTION = "kernel-connection.json"
JOB_LOG = "job.log"


def make_private_dir(path):
    """Create ``path`` (and parents) readable by its owner only; refuse a directory that
    others can read, which could leak the keys."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)


def write_private(path, data):
    """Write ``data`` (a str) to ``path`` with mode 0600, atomically (rename)."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")  # mkstemp makes 0600 files
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def signature(token, payload):
    """HMAC-SHA256 of ``payload``'s canonical JSON under ``token``."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hmac.new(token.encode("ascii"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def write_signed(path, token, payload):
    write_private(path, json.dumps({"payload": payload, "hmac": signature(token, payload)}))


def read_signed(path, token):
    """The payload of a signed file, or None when it is missing, unreadable or its HMAC is
    not ``token``'s (a file from another start, or written by someone else)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        payload, mac = data["payload"], data["hmac"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(mac, str) or not hmac.compare_digest(mac, signature(token, payload)):
        return None
    return payload


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
