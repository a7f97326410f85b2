"""Pure decisions, one package per bounded context (`quota`, `usage`, `control`, and later
`ledger`, `pricing`, `orders`, `commission`, `delivery`).

Each takes state and a command and returns what changes; nothing here does I/O or reads a
clock of its own. Imports only `core`.
"""
