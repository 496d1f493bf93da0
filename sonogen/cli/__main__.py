import sys

from sonogen.cli import main

sys.exit(main())
