"""A background worker that reports progress on a queue of jobs."""
import time

job = 0
while True:
    job += 1
    for pct in (0, 50, 100):
        print(f"job {job}: {pct}%")
        time.sleep(0.5)
