"""People who log in: roles and tenants, password rules, and when repeated failures lock a
login (pure)."""
