from xbuildenv.cli import main

raise SystemExit(main())
