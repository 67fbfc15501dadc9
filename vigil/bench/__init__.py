"""Benchmarks behind `vigil bench`: ratios against a baseline measured in the same run."""
