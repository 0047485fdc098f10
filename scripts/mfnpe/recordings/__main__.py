"""``python -m mfnpe.recordings FILE... [--pulses] [--json]``: what ABF or NWB files hold,
per sweep, and their passive card (docs/recordings.md, "Inspect a file").

A command-line entry point, not library code: ``python -m`` runs it and no module imports
it, so it may call the command of a higher layer (``mfnpe.observation.inspect``, where the
passive card is); it does nothing else (the layout tests hold it to that).
"""

import sys

from mfnpe.observation.inspect import main

sys.exit(main())
