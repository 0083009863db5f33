import sys
from pathlib import Path

BENCH_TESTS = Path(__file__).resolve().parents[1] / "bench"
if str(BENCH_TESTS) not in sys.path:
    sys.path.insert(0, str(BENCH_TESTS))
