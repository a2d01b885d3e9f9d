"""Runs: the record and its states, the run message, the plan and fallback chain, submit-run's and job-state's cores."""
