"""The HTTP API (FastAPI): thin routers per resource, auth and visibility in `deps`, one schemas
module per resource, store errors mapped to HTTP answers once (`errors`)."""
