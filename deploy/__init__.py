"""Deploying flexrun to Google Cloud: function bundles, and the plan of what cloudbuild.yaml runs."""
