"""Differential tests against the real rclone binary."""
