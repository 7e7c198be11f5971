from synthese.cli import main

main()
