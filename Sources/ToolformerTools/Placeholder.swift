// Exec and HTTP tool kinds arrive with the orchestrator issue.
