"""Driving a card's network status to its desired status: how operators answer, and the pure
plan of what to send, in which batches, and when to try again."""
