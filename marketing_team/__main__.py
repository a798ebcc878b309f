"""`python -m marketing_team` is `mtctl`."""

from marketing_team.cli.main import main

main()
