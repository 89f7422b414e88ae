"""Alt: a self-hosted RSS knowledge pipeline."""

__version__ = "0.1.0"
