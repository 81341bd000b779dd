"""OpenAI image generation wire models (``POST /v1/images/generations``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_IMAGES = 10
MAX_SIDE = 2048
MAX_PROMPT = 32_000  # characters (gpt-image's limit; dall-e-3 takes 4,000)


class ImageRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # engine extras (negative_prompt, steps, seed …) pass through

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT)
    model: str = Field(min_length=1)
    n: int = Field(1, ge=1, le=MAX_IMAGES)
    size: str = Field("1024x1024", description="WIDTHxHEIGHT, or auto (the model's default)")
    quality: Literal["standard", "hd", "low", "medium", "high", "auto"] = "auto"
    response_format: Literal["url", "b64_json"] = Field("url", description="url (OpenAI's default) or b64_json")
    style: Literal["vivid", "natural"] | None = None
    user: str | None = Field(None, max_length=256)

    @field_validator("size")
    @classmethod
    def _size(cls, size: str) -> str:
        if size == "auto":
            return size
        width, _, height = size.partition("x")
        if not (width.isdigit() and height.isdigit()) or not (
            64 <= int(width) <= MAX_SIDE and 64 <= int(height) <= MAX_SIDE
        ):
            raise ValueError(f"size is WIDTHxHEIGHT with sides from 64 to {MAX_SIDE}, or auto")
        return size

    def dimensions(self, default: tuple[int, int]) -> tuple[int, int]:
        if self.size == "auto":
            return default
        width, _, height = self.size.partition("x")
        return int(width), int(height)


class ImageData(BaseModel):
    url: str | None = None
    b64_json: str | None = None
    revised_prompt: str | None = None


class ImageUsage(BaseModel):
    images: int


class ImagesResponse(BaseModel):
    created: int
    data: list[ImageData]
    size: str | None = None
    usage: ImageUsage | None = None
