"""Benchmarks behind `trnmon bench SUITE --json`: one JSON object per line on stdout."""
