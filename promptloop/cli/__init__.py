"""The `promptloop` command line: session, chat, doctor, models, playlist, eval, serve, users."""
