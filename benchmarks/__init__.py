"""Performance benchmarks of rai-harness (not tests): each script prints ratios measured side by side.

Run them from the repository root as modules, e.g. ``.venv/bin/python -m benchmarks.overhead``;
see ``benchmarks/README.md`` for the list, the workloads and the latest results.
"""
