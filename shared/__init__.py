"""flexrun's own code shared by the Cloud Functions: settings, events, manifest, job spec, stores, notifier."""
