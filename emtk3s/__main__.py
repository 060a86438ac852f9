from emtk3s.cli.main import main

main()
