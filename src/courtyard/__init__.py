"""Courtyard: a multi-user notebook hub. See docs/architecture.md."""

__version__ = "0.1.0"
