"""``python -m beam_cqia.models {fetch,where}``: install-time download and lookup of lid.176."""

import sys

from beam_cqia.models.assets import main

if __name__ == "__main__":
    sys.exit(main())
