from courtyard.cli.main import main

raise SystemExit(main())
