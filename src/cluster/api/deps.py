"""Services and callers reach routes through these dependencies (tests override them instead of patching).

A domain that is switched off is None in ``Services``; its routers depend on ``enabled(...)``, so every one of
its endpoints answers the same ``404 feature_disabled`` before anything else is checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from cluster.agents.service import Agents
from cluster.api.access import inference_context, principal
from cluster.auth import Principal, Scope
from cluster.chain.service import ChainService
from cluster.errors import FeatureDisabled
from cluster.finetune.service import FineTuning
from cluster.gateway.context import RequestContext
from cluster.gateway.media import MediaService
from cluster.gateway.service import InferenceService
from cluster.marketplace.royalties import Royalties
from cluster.marketplace.service import Marketplace
from cluster.payments.service import X402Service
from cluster.services import Services

T = TypeVar("T")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_inference(request: Request) -> InferenceService:
    return get_services(request).inference


def get_media(request: Request) -> MediaService:
    return get_services(request).media


def enabled(service: Callable[[Services], T | None], what: str, setting: str) -> Callable[[Request], T]:
    """A dependency giving a domain's service, or ``feature_disabled`` when the domain is off."""

    def dependency(request: Request) -> T:
        found = service(get_services(request))
        if found is None:
            raise FeatureDisabled(f"{what} is disabled on this server (enable it with {setting})")
        return found

    return dependency


chain_enabled = enabled(lambda s: s.chain, "the chain layer", "chain.enabled = true")
x402_enabled = enabled(lambda s: s.x402, "x402", "x402.enabled = true and chain.enabled = true")
marketplace_enabled = enabled(lambda s: s.marketplace, "the marketplace", "chain.enabled = true")
royalties_enabled = enabled(lambda s: s.royalties, "royalties", "chain.enabled = true")
fine_tuning_enabled = enabled(lambda s: s.fine_tuning, "fine-tuning", "finetune.enabled = true")
agents_enabled = enabled(
    lambda s: s.agents, "agents", "chain.enabled = true, an IdentityRegistry, and agents.operator_key off the dev chain"
)


def _caller(scope: Scope) -> Any:
    async def dependency(request: Request) -> Principal:
        return await principal(get_services(request), request, scope)

    return Depends(dependency)


def _inference(endpoint: str) -> Any:
    async def dependency(request: Request) -> RequestContext:
        return await inference_context(get_services(request), request, endpoint)

    return Depends(dependency)


ServicesDep = Annotated[Services, Depends(get_services)]
InferenceDep = Annotated[InferenceService, Depends(get_inference)]
MediaDep = Annotated[MediaService, Depends(get_media)]
ChainDep = Annotated[ChainService, Depends(chain_enabled)]
X402Dep = Annotated[X402Service, Depends(x402_enabled)]
MarketplaceDep = Annotated[Marketplace, Depends(marketplace_enabled)]
RoyaltiesDep = Annotated[Royalties, Depends(royalties_enabled)]
FineTuningDep = Annotated[FineTuning, Depends(fine_tuning_enabled)]
AgentsDep = Annotated[Agents, Depends(agents_enabled)]
Reader = Annotated[Principal, _caller(Scope.READ)]
Writer = Annotated[Principal, _caller(Scope.WRITE)]
Admin = Annotated[Principal, _caller(Scope.ADMIN)]
ChatAccess = Annotated[RequestContext, _inference("chat.completions")]
EmbeddingsAccess = Annotated[RequestContext, _inference("embeddings")]
SpeechAccess = Annotated[RequestContext, _inference("audio.speech")]
TranscriptionAccess = Annotated[RequestContext, _inference("audio.transcriptions")]
TranslationAccess = Annotated[RequestContext, _inference("audio.translations")]
RerankAccess = Annotated[RequestContext, _inference("rerank")]
ScoreAccess = Annotated[RequestContext, _inference("score")]
ImagesAccess = Annotated[RequestContext, _inference("images.generations")]
