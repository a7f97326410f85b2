"""Usage records: their validation, dedupe keys, partitioning by ICCID and polled-counter
deltas."""
