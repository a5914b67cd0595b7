"""``python -m courtyard.singleuser``: see launcher.py."""

from courtyard.singleuser.launcher import main

raise SystemExit(main())
