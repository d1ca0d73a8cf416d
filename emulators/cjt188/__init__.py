"""Emulated CJ/T 188 water, hot-water and heat meters (own framing; see ``meter.py``)."""
