"""``python -m mof_experiments.send ARGS`` is ``mof send ARGS`` (used by the crash-safety tests)."""

import sys

from mof_experiments.cli import main

if __name__ == "__main__":
    sys.exit(main(["send", *sys.argv[1:]]))
