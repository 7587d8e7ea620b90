import sys

from cifranegra.cli import main

sys.exit(main())
