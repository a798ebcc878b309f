"""Operating the team on a machine: the embedded server, run modes, `mtctl up`, health."""
