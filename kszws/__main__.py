from kszws.cli import main

main()
