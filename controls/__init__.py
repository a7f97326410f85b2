"""The controls process: the reconciler that drives each card's network status to its
desired status through rate-limited, batched, retried operator commands, and the usage poller."""
