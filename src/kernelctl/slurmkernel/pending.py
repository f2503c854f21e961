"""What a Slurm kernel's job waiting in the queue is waiting for (squeue's ``%r`` reason) and
what to change, including the Alliance's rules for interactive jobs."""

from __future__ import annotations

_ADVICE = (  # (reason prefix, advice)
    ("Priority", "other jobs are ahead of it; a shorter --time (3 hours or less uses the Alliance's "
                 "interactive nodes) or fewer cores starts sooner"),
    ("Resources", "no node has the requested cores, memory or GPU free right now; ask for fewer "
                  "(--cpus-per-task, --mem, --gres) or a shorter --time"),
    ("QOSMaxJobsPerUser", "you already run as many jobs as your QOS allows; end one ('squeue -u $USER', "
                          "'scancel ID') — on Alliance clusters only one interactive job at a time gets priority"),
    ("AssocMaxJobs", "your account already runs its maximum number of jobs; end one or use another --account"),
    ("AssocGrp", "your account's group limit (cores, memory or minutes) is used up; ask for less or use another --account"),
    ("QOSGrp", "the QOS's group limit is used up; ask for less, or wait"),
    ("PartitionTimeLimit", "--time is longer than the partition allows; lower it ('sinfo -s' shows limits)"),
    ("ReqNodeNotAvail", "the nodes it may use are down, drained or reserved; drop --nodelist/--constraint or pick another --partition"),
    ("Reservation", "it waits for its reservation to start"),
    ("BeginTime", "it has a start time in the future"),
    ("Dependency", "it waits for another job"),
    ("JobHeldUser", "it is held; 'scontrol release ID' lets it run"),
    ("JobHeld", "an administrator holds it"),
    ("InvalidAccount", "the --account is not valid here; 'sacctmgr -n show assoc user=$USER format=account' lists yours"),
    ("InvalidQOS", "the --qos is not valid here"),
)


def advice(reason: str) -> str:
    """What to change for a job pending for ``reason`` ('' when Slurm gives none)."""
    for prefix, text in _ADVICE:
        if reason.startswith(prefix):
            return text
    return "see 'squeue -j ID --start' for its expected start" if reason and reason != "None" else ""


def describe(job_id: str, reason: str) -> str:
    """``Slurm job 42 is pending (Resources): no node has ...``."""
    shown = reason if reason and reason != "None" else "no reason given yet"
    text = f"Slurm job {job_id} is pending ({shown})"
    hint = advice(reason)
    return f"{text}: {hint}" if hint else text
