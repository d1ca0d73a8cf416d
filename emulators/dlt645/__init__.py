"""Emulated DL/T 645-2007 electricity meters (own framing and packing; see ``meter.py``)."""
