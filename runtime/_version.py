"""The package version (single source for pyproject and `perstack --version`)."""

__version__ = "0.1.0"
