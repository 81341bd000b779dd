"""HTTP: thin routes over the domain services, OpenAI's wire format."""
