"""Slack: the webhook client and the text of each message."""
