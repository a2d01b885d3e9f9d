"""CloudEvents in, typed values out, and the one place that decides acknowledge or retry."""
