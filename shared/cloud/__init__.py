"""Cloud clients built once per function instance, from the settings."""
