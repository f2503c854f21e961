"""Handing notebooks to Slurm: checking sbatch options, writing job scripts, expanding
sweeps into job arrays, recording submitted jobs and reading their state back from
``squeue``/``sacct`` and the runs' report files. One concern per module."""
