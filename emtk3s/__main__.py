from emtk3s.cli.app import main

main()
