"""The protocols' shared vocabulary: data tables, data types and byte orders, stdlib only.

The ground floor under both ``controller.config`` (profiles name these) and ``drivers`` (specs
carry them), and the words ``emulators`` encode with. Only names and facts of the wire live
here; decoding and encoding stay with the driver and the emulator, each with its own code.
"""
