"""rclone-exact file filtering: globs, ordered rules, and the size/age/depth/marker filters."""

from .filter import Filter

__all__ = ["Filter"]
