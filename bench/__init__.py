"""Benchmarks of the figures issue 2 names, each printed beside its reference measured in the same run.

`make bench` (or `python -m bench [pipeline|http_me|login ...]`). See bench/__main__.py.
"""
