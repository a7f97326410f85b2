"""All SQL: migrations, queries and batched writers, one module per context, typed rows out.

"Lock → load → decide → save" lives here, calling the pure `domain` rules once per
transaction. Imports only `core` and `domain`.
"""
