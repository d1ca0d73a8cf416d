"""Emulated buses of DL/T 645 and CJ/T 188 meters (TCP gateways and pseudo-terminals).

Import from the modules (``.site``, ``.gateway``, ``.serve``): the package itself re-exports
nothing, because the protocol emulators (``emulators.dlt645``, ``emulators.cjt188``) use its
leaf modules (``.bcd``, ``.faults``) while ``.site`` uses them, and eager re-exports here
would make that an import cycle.
"""
