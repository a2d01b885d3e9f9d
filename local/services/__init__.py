"""Process supervision: start each local service (ours and third-party) on loopback, stop it by PID."""
