"""Wire-level emulators of campus devices, for tests, benchmarks and the demo.

``emulators.models`` holds protocol-agnostic device behaviour (meters, valves, AC units);
``emulators.modbus`` serves those models as Modbus gateways. Emulators never import ``drivers``:
their encoding is written independently so a decoding bug cannot cancel itself out.
"""
