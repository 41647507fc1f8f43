"""Reliability tests: processes killed and services restarted in the middle of the work."""
