"""Command-line tools around the platform: the benchmark and the simulated fleet."""
