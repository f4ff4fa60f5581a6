from pixelprobe_tui.cli import main

raise SystemExit(main())
