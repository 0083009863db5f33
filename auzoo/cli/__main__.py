import sys

from auzoo.cli import main

sys.exit(main())
