"""``python -m controller``: the ``sanjie`` command, run from a source tree (a checkout or a
worktree) without installing it, so it runs that tree's code rather than an installed one."""

from controller.cli import main

main()
