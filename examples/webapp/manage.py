#!/usr/bin/env python3
"""Like Django's manage.py: runserver, worker, migrate, check."""
import os
import sys


def migrate():
    from shop import db

    db.query("CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY)")
    done = {row[0] for row in db.query("SELECT name FROM schema_migrations")}
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")
    for name in sorted(f for f in os.listdir(folder) if f.endswith(".sql")):
        migration = name[:-4]
        if migration in done:
            continue
        print(f"  Applying {migration}...", end="", flush=True)
        db.run_file(os.path.join(folder, name))
        db.query("INSERT INTO schema_migrations VALUES (:'name')", name=migration)
        print(" OK", flush=True)
    print("migrations done", flush=True)


def check():
    """The health check: the web app answers, with both stores reachable."""
    import urllib.request

    from shop import settings

    with urllib.request.urlopen(f"http://127.0.0.1:{settings.PORT}/health", timeout=2) as resp:
        sys.exit(0 if resp.status == 200 else 1)


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else "help"
    if cmd == "runserver":
        from shop import web

        web.serve()
    elif cmd == "worker":
        from shop import worker

        worker.run()
    elif cmd == "migrate":
        migrate()
    elif cmd == "check":
        check()
    else:
        print("usage: manage.py runserver|worker|migrate|check", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
