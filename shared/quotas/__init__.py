"""Vertex AI GPU quota: which quota a step consumes, and the snapshot submit-run plans with."""
