"""The worker: takes jobs from a Redis list and records them in Postgres."""
from . import db
from .cache import Redis


def run():
    r = Redis(timeout=30)
    print("worker: waiting for jobs", flush=True)
    while True:
        got = r.call("BLPOP", "jobs", "5")
        if got is None:
            continue
        _, job = got
        db.query("INSERT INTO visit_log (job) VALUES (:'job')", job=job)
        print(f"worker: processed {job}", flush=True)
