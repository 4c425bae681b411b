"""cunzhan (村站): an open platform for a rural e-commerce service network."""

__version__ = "0.1.0"
