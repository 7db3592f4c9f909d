"""Grafana dashboards as code and the go-live readiness report."""
