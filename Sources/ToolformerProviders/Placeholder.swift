// LLM provider clients arrive with the providers issue.
