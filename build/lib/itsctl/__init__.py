"""`itsctl`: the ITS Portal operator's command line.

Each command group is a typer app in its own module (`itsctl.clock`, `itsctl.mail`, ...),
mounted in `itsctl.cli`.
"""
