"""`python -m labelbook.cli`, as the installed `labelbook` command."""

from labelbook.cli import main

main()
