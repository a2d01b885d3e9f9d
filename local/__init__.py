"""The local cloud: real implementations of each Google Cloud protocol flexrun speaks, on loopback."""
