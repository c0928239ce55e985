"""Threads, processes and files that carry out the core's decisions."""
