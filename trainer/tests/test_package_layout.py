"""The library (`import hima`: what wrapping a model needs) loads none of the application (`hima.app`)."""
import subprocess
import sys


def test_import_hima_loads_no_application_module():
    code = "import sys, hima; print(sorted(m for m in sys.modules if m == 'hima.app' or m.startswith('hima.app.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
