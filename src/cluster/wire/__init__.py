"""Wire formats the domains share: OpenAI's request and response models (``openai``) and server-sent event
framing (``sse``). The bottom layer: it imports nothing of Cluster's, so any domain may speak it without
importing another domain (the import contract in ``make lint`` holds that)."""
