import sys

from cifranegra.cli import console

sys.exit(console())
