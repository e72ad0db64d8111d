from xbuildenv.cli.main import main

raise SystemExit(main())
