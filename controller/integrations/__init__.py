"""Glue between drivers and the controller: profiles → driver specs, readings → state store."""
