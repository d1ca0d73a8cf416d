"""``sanjie run`` whose ledger announces each charge and then holds its transaction open.

``python -m tests.billing.run_child run SITE ...``: the same entry point as the ``sanjie``
console script (``controller.cli:main``) with the same arguments; the one difference is that
every charge posted prints ``posted <key>`` on stdout and the billing thread then pauses
inside the hour's still-open transaction, so the crash test can SIGKILL the whole controller
there (it checks afterwards that the hour was indeed rolled back).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from controller.billing import EntryKind, LedgerStore
from controller.cli import main

PAUSE_S = 0.3
_post = LedgerStore.post


def _announcing_post(self: LedgerStore, *args: Any, **kwargs: Any) -> Any:
    entry = _post(self, *args, **kwargs)
    if entry.kind is EntryKind.CHARGE:
        print(f"posted {entry.key}", flush=True)
        time.sleep(PAUSE_S)  # inside the hour's transaction: a window for the SIGKILL
    return entry


if __name__ == "__main__":
    LedgerStore.post = _announcing_post  # type: ignore[method-assign]
    sys.argv = ["sanjie", *sys.argv[1:]]
    main()
