"""Protocol drivers. They speak to devices and know nothing of the controller.

Each driver takes its own frozen specs (built by ``controller.integrations``) and hands back
typed snapshots; it never imports ``controller``.
"""
