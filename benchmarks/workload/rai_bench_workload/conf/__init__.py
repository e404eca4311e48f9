"""Hydra configs of the benchmark workload (``scenario/bench_generate.yaml``)."""
