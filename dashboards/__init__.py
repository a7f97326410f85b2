"""Grafana dashboards and Prometheus alert rules as code: builders, generated JSON,
provisioning and the push to a running Grafana."""
