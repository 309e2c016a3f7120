"""distro: press-release distribution with embargo-safe sends and exact delivery tracking."""

__version__ = "0.1.0"
