"""The benchmark workload: a generation scenario over a fixed prompt file.

It is a plugin like any third-party one, but it is never installed: the folder
``benchmarks/workload`` holds its ``.dist-info`` metadata, so putting that folder on
``PYTHONPATH`` makes ``importlib.metadata`` (and therefore ``harness``) discover it.
"""
