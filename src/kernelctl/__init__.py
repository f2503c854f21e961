"""kernelctl: offline-aware Jupyter kernels and wheelhouse tools for HPC clusters."""

__version__ = "0.1.0"
