from itsctl.cli import main

main()
