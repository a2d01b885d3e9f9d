"""Settings, structured logs and the duration grammar: how every function is configured and speaks."""
