"""Private-linkage tests: make the helpers of this folder (private_synth, private_attack) importable."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
