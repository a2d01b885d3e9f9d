"""Vertex AI jobs: the GPU catalog, the CustomJob built for an attempt, API errors sorted."""
