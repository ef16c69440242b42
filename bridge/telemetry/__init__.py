"""What the bridge tells its operators: one structured log line per request."""
