"""The Flex Template's ``FLEX_TEMPLATE_PYTHON_PY_FILE``: ``python -m beam_cqia.flex_launcher``."""

import sys

from beam_cqia.flex_launcher import main

if __name__ == "__main__":
    sys.exit(main())
