"""Savings policies: declarations, the pure decision engine, overrides, persistence, dry runs.

The package root only re-exports the configuration models, which the config loader imports;
the engine lives in ``controller.policies.engine`` (importing it here would be an import cycle).
"""

from .config import PolicyConfig, Scope, Window

__all__ = ["PolicyConfig", "Scope", "Window"]
