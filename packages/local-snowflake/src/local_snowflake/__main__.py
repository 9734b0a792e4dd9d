from local_snowflake.cli import main

main()
