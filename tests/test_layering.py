"""The import layering of DESIGN.md, held by import-linter contracts in setup.cfg."""
import shutil
import subprocess
import sys
from pathlib import Path

from tests.netfixture import ROOT


def test_import_contracts_hold():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    result = subprocess.run([exe, str(ROOT / "setup.cfg")], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
