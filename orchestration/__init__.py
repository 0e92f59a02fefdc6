"""Starting, watching and always stopping the programs a run needs.

Two layers: ``orchestration.processes`` (one process manager, free ports, the child environment
and the ``/health`` readiness poller) is the bottom layer that every program and test may use;
``orchestration.demo`` (``python -m orchestration.demo``, the whole kit in one command) sits
above the protocol, the server, the suite, the benchmarks and the reports.
"""
