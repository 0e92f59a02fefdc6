"""The pytest engine of the suite: options, the session that talks to the provider and shares
its generations, the runner that turns a check's outcome into a verdict, the record and its
reports. It knows the checks only through ``conformance.engine.registry``.
"""
