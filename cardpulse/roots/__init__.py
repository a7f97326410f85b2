"""One composition root per process, each `run(settings)`: it builds the process's clients,
pools and metrics from the settings and runs until SIGTERM/SIGINT."""
