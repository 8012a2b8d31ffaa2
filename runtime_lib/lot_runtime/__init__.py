"""The runtime of sites compiled by lotc (contract: docs/runtime-api.md).

Generated code uses only the names below; everything else is internal.
"""

from . import values
from .execution import Execution
from .models import Field, Model
from .routes import Env, Secret
from .runner import main
from .site import Action, Site
from .triggers import Daily, Every, Once, OnChange, OnStart, OnTopic, Weekly

__version__ = "0.1.0"

__all__ = [
    "Action",
    "Daily",
    "Env",
    "Every",
    "Execution",
    "Field",
    "Model",
    "OnChange",
    "OnStart",
    "OnTopic",
    "Once",
    "Secret",
    "Site",
    "Weekly",
    "main",
    "values",
]
