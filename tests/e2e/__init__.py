"""End-to-end tests: whole migrations with pysync run as a subprocess against real servers."""
