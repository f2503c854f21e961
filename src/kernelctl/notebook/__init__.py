"""Running notebooks as batch jobs (``kernelctl run``), one concern per module.

* :mod:`.params`: papermill-compatible parameters (typed values, the injected cell);
* :mod:`.state`: each cell's status in the output notebook, and where a resume starts;
* :mod:`.saving`: atomic, incremental writes of the output notebook;
* :mod:`.live`: progress and cell output on stdout as they happen;
* :mod:`.kernel`: which kernel, how it is started, and why it stopped;
* :mod:`.memory`: the peak RSS of the kernel's process tree;
* :mod:`.outcome`: exit causes, their codes and messages;
* :mod:`.executor`: the run itself, with signals and timeouts;
* :mod:`.report`: the ``--report`` JSON.
"""
