"""Wire models of the Files and fine-tuning APIs, shaped like OpenAI's so its client drives them unchanged.

Cluster's additions ride in fields OpenAI's client passes through: ``dataset`` (a marketplace slug, instead of
``training_file``) and ``public`` on create; ``dataset`` and ``lineage`` on the job.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from cluster.settings import Lineage

JobStatus = Literal["validating_files", "queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
SUFFIX = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class FileObject(BaseModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: Literal["processed"] = "processed"
    status_details: str | None = None
    lines: int | None = Field(None, description="examples in the file (Cluster)")


class FileList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FileObject]
    has_more: bool = False


class FileDeleted(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool = True


def _bounded(low: float, high: float) -> Any:
    """ "auto" or a number in [low, high]: checked by the validators below (a bound inside the union would name the
    union's branch in the error's param), stated in the OpenAPI spec here."""
    return Field("auto", json_schema_extra={"minimum": low, "maximum": high})


class Hyperparameters(BaseModel):
    n_epochs: int | Literal["auto"] = _bounded(1, 50)
    batch_size: int | Literal["auto"] = _bounded(1, 256)
    learning_rate_multiplier: float | Literal["auto"] = _bounded(0, 10)

    @field_validator("n_epochs")
    @classmethod
    def _epochs(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 50:
            raise ValueError("n_epochs must be between 1 and 50")
        return value

    @field_validator("batch_size")
    @classmethod
    def _batch(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 256:
            raise ValueError("batch_size must be between 1 and 256")
        return value

    @field_validator("learning_rate_multiplier")
    @classmethod
    def _rate(cls, value: float | str) -> float | str:
        if not isinstance(value, str) and not 0 < value <= 10:
            raise ValueError("learning_rate_multiplier must be in (0, 10]")
        return value


class Method(BaseModel):
    type: Literal["supervised"] = "supervised"
    supervised: dict[str, Any] | None = None


class JobCreate(BaseModel):
    model: str = Field(min_length=1, max_length=200)
    training_file: str | None = None
    validation_file: str | None = None
    dataset: str | None = Field(None, description="a marketplace dataset's slug (chat JSONL) you hold access to")
    hyperparameters: Hyperparameters = Hyperparameters()
    suffix: str | None = None
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    method: Method | None = None
    public: bool = Field(False, description="anyone may call the resulting model (else only you)")
    metadata: dict[str, str] | None = None

    @field_validator("suffix")
    @classmethod
    def _suffix(cls, value: str | None) -> str | None:
        if value is not None and not SUFFIX.match(value):
            raise ValueError("suffix: 1-40 of A-Z a-z 0-9 _ -")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> JobCreate:
        if (self.training_file is None) == (self.dataset is None):
            raise ValueError("give exactly one of training_file or dataset")
        if self.method is not None and self.method.supervised:
            self.hyperparameters = Hyperparameters.model_validate(
                {**self.hyperparameters.model_dump(), **self.method.supervised.get("hyperparameters", {})}
            )
        return self


class JobError(BaseModel):
    code: str
    message: str
    param: str | None = None


class FineTuningJob(BaseModel):
    id: str
    object: Literal["fine_tuning.job"] = "fine_tuning.job"
    created_at: int
    error: JobError | None = None
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    hyperparameters: dict[str, Any]
    model: str
    organization_id: str
    result_files: list[str] = []
    seed: int
    status: JobStatus
    trained_tokens: int | None = None
    training_file: str | None = None
    validation_file: str | None = None
    estimated_finish: int | None = None
    integrations: list[Any] = []
    metadata: dict[str, str] | None = None
    method: dict[str, Any] = {"type": "supervised"}
    user_provided_suffix: str | None = None
    dataset: str | None = None
    lineage: Lineage | None = None
    public: bool = False
    charged: int = Field(0, description="micro-USDC charged up front for training (Cluster)")
    cost: int | None = Field(None, description="what training finally cost, once the job ended (Cluster)")


class JobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJob]
    has_more: bool = False


class JobEvent(BaseModel):
    id: str
    object: Literal["fine_tuning.job.event"] = "fine_tuning.job.event"
    created_at: int
    level: Literal["info", "warn", "error"]
    message: str
    type: Literal["message", "metrics"] = "message"
    data: dict[str, Any] | None = None


class EventList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobEvent]
    has_more: bool = False


class Checkpoint(BaseModel):
    id: str
    object: Literal["fine_tuning.job.checkpoint"] = "fine_tuning.job.checkpoint"
    created_at: int
    fine_tuned_model_checkpoint: str
    fine_tuning_job_id: str
    metrics: dict[str, float | None]
    step_number: int


class CheckpointList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Checkpoint]
    has_more: bool = False
    first_id: str | None = None
    last_id: str | None = None
