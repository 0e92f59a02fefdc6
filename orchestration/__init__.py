"""Starting, watching and always stopping the programs a run needs: providers, nginx, Locust, and
the one-command demo (``python -m orchestration.demo``) that strings the whole kit together.

It sits above the protocol, the server, the suite, the benchmarks and the reports, and nothing
below it imports it except the load-balancing benchmark's process manager.
"""
