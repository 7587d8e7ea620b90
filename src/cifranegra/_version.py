"""The package version, kept in one place (read by hatchling and recorded in every result)."""

__version__ = "0.1.0"
