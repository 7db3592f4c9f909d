"""Centre side: ingest API, journal, site registry store, TSDB writer, metrics."""
