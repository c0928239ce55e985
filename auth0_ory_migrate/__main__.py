"""``python -m auth0_ory_migrate`` runs the command line."""

from auth0_ory_migrate._cli import main


main(prog_name="auth0-ory-migrate")
