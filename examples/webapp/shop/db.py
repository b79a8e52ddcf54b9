"""Postgres through the psql client: no driver to install."""
import subprocess

from . import settings


def query(sql, **params):
    """Runs sql (with :'name' placeholders for params, quoted by psql) and
    returns the rows as lists of strings."""
    cmd = ["psql", settings.DATABASE_URL, "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
    for name, value in params.items():
        cmd += ["-v", f"{name}={value}"]
    out = subprocess.run(cmd, input=sql, capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def run_file(path):
    """Runs a SQL file in one transaction."""
    out = subprocess.run(
        ["psql", settings.DATABASE_URL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", path],
        capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
