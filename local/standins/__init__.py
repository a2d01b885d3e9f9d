"""Stand-ins we wrote for Google services: Vertex AI JobService, PostgREST, Slack, Eventarc, a fault proxy."""
