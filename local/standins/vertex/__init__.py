"""A local Vertex AI JobService: the REST API v1 subset flexrun calls, backed by real subprocesses.

`python -m local.standins.vertex --help` starts it. Production code talks to it unchanged through
`aiplatform_v1.JobServiceClient(transport="rest", client_options={"api_endpoint": "http://..."})`.
"""
