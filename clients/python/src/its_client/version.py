"""The installed package's version (pyproject.toml's), for the User-Agent and `its-client --version`."""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("its-client")
except PackageNotFoundError:  # run from a source tree that was not installed
    VERSION = "0+unknown"
