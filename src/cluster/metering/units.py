"""What one request consumed, in the units its modality is measured and priced in.

Chat and embeddings count tokens; text-to-speech counts input characters; transcription and translation count
seconds of audio; image generation counts images; reranking counts searches (one query over its documents).
Every quantity is an integer: an adapter rounds up (a 2.1 s clip is 3 seconds), so that money stays integer
micro-USDC end to end (``cluster.billing.pricing``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    characters: int = 0
    seconds: int = 0
    images: int = 0
    searches: int = 0
    #: True when counted by us because the provider did not report it
    estimated: bool = False

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def counts(self) -> dict[str, int]:
        """Each quantity by name (the request log's and the rollups' columns)."""
        return {name: getattr(self, name) for name in QUANTITIES}


#: the counted quantities (every field but ``estimated``), in a fixed order: request-log and rollup columns
QUANTITIES: tuple[str, ...] = tuple(f.name for f in fields(Usage) if f.name != "estimated")
