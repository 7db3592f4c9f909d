"""The central collector: ingest API, site registry and tokens, accept journal, TSDB writer,
live state and metrics. Everything here runs at the centre; docs/collector.md is the guide."""
