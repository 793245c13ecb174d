"""The command line: `trnmon` (one module per subcommand) and `neuron-top`.

`trnmon.cli.main` builds the `trnmon` parser from the command modules beside it; each
command module owns its flags (`register`) and its handler (`run`), importing heavy layers
(the daemon, Textual) only when it runs. `trnmon.cli.neuron_top` is the TUI's console
script. Every user error ends as one line on stderr and exit 2.
"""

from trnmon.cli.main import main

__all__ = ["main"]
