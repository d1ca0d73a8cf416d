"""Savings policies: the pure decision engine, overrides, persistence, dry runs.

The policy declarations are configuration (``controller.config.policies``); the engine lives
in ``controller.policies.engine``. The package root imports nothing, so importing one policy
module does not pull in the engine.
"""
