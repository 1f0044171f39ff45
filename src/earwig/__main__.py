from earwig.cli import main

main()
