"""Centre side: alert rules, incidents, routing, channels."""
