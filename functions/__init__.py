"""Cloud Function entry points: thin adapters from a CloudEvent to a core function in `shared`."""
