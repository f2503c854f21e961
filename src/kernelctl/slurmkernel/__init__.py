"""Kernels that run in their own Slurm allocation: a jupyter_client kernel provisioner
(:mod:`.provisioner`), the agent that runs inside the job (:mod:`.agent`), and the files
they exchange (:mod:`.channel`)."""
