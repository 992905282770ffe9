"""The operators' command line: ``python -m admin --help``."""
