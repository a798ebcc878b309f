"""The `mtctl` command line: one group, command modules `cmd_*.py` discovered at start."""
