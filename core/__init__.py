"""The bottom floor: settings, signing, rate limiting, the one list of operators and their
statuses, money in fen, the platform clock and the checks every text input passes.

Imports only the standard library and pydantic; every other floor may import it.
"""
