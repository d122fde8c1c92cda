"""The business rules that more than one service applies, pure: no I/O, no HTTP.

A rule that only one service applies lives in that service's own rule modules; the kernel (`shared/`) holds
infrastructure only. `docs/rules.md` maps every rule id to the code and the tests that carry it.
"""
