"""Benchmarks of the store; run each as a module, e.g. `python -m bench.bulk_insert --help`."""
