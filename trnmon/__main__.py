from trnmon.cli.main import main

raise SystemExit(main())
