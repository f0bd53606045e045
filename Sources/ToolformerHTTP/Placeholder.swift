// The shared HTTP client arrives with the orchestrator issue.
