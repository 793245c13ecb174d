from trnmon.cli import main

raise SystemExit(main())
