"""The package version, in a module of its own so nothing imports back up from the package root."""

__version__ = "0.1.0"
