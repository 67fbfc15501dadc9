"""The model layer graphs use: a guarded gateway, typed answers, a scripted fake."""

from graphs.llm.gateway import CallRecord, ModelCallError, ModelEntry, ModelGateway, ModelMetrics
from graphs.llm.structured import Structured, astructured, structured

__all__ = [
    "CallRecord",
    "ModelCallError",
    "ModelEntry",
    "ModelGateway",
    "ModelMetrics",
    "Structured",
    "astructured",
    "structured",
]
