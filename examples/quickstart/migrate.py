"""A stand-in for `manage.py migrate`: applies three migrations and exits."""
import time

for n, name in enumerate(["0001_initial", "0002_users", "0003_orders"], start=1):
    print(f"Applying app.{name}... OK", flush=True)
    time.sleep(0.1)
print("migrations done")
