"""`python -m landcycle` = the `landcycle` command."""

from landcycle.faces.cli import main

main()
