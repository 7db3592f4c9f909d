from netmon.cli import main

main()
