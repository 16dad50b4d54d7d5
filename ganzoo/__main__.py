import sys

from ganzoo.cli import main

sys.exit(main())
