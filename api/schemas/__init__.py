"""Request and response bodies of the public API, one module per resource (names per
shared/api-contract.md): `XCreate`, `XUpdate`, `XPublic`."""
