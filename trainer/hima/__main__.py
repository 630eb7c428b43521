"""`python -m hima train ...` (see cli.py)."""
import sys

from .cli import main

sys.exit(main())
