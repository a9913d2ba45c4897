from autotag.cli import main

raise SystemExit(main())
