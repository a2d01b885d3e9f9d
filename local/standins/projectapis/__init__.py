"""Local stand-in for the project-level Google APIs the doctor and the quota snapshot read.

Cloud Quotas, Service Usage, IAM testIamPermissions (project, buckets, topics, subscriptions, secrets),
Secret Manager and Cloud Scheduler metadata, IAM Credentials: `python -m local.standins.projectapis`.
"""
