"""sanjie controller: entity/state core, configuration, scheduler, policies, recorder, API."""

__version__ = "0.1.0"
