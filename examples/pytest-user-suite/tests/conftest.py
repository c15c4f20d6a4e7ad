import sys
from pathlib import Path

# The application module lives next to tests/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
